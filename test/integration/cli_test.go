package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/config"
	"github.com/sigilhq/sigil/internal/sigiltest"
)

// TestAWSCLIWalkthrough runs scripts/aws-cli-walkthrough.sh (the README's
// walkthrough) against a real server with the Debian AWS CLI v2, and with an
// AWS CLI v1 as well when one is first on PATH (DESIGN.md: both must work).
func TestAWSCLIWalkthrough(t *testing.T) {
	sigiltest.Require(t, "openssl", "openssl")
	clis := []string{sigiltest.AWSCLIv2(t)}
	if p, err := exec.LookPath("aws"); err == nil && p != clis[0] {
		if out, _ := exec.Command(p, "--version").CombinedOutput(); strings.HasPrefix(string(out), "aws-cli/1.") {
			clis = append(clis, p)
		}
	}
	script := filepath.Join(sigiltest.ModuleRoot(), "scripts", "aws-cli-walkthrough.sh")
	for _, cli := range clis {
		t.Run(filepath.Base(filepath.Dir(cli))+"/aws", func(t *testing.T) {
			env := sigiltest.Start(t)
			work := t.TempDir()
			cmd := exec.Command("bash", script, work)
			cmd.Env = append(os.Environ(), "ENDPOINT="+env.URL, "AWS_BIN="+cli, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("walkthrough with %s failed: %v\n%s", cli, err, out)
			}
			if !strings.Contains(string(out), "walkthrough OK") {
				t.Fatalf("walkthrough did not finish:\n%s", out)
			}
			// zlint every certificate the CLI obtained.
			linted := 0
			for _, name := range []string{"root.pem", "sub.pem", "app.pem", "db.pem"} {
				pemBytes, err := os.ReadFile(filepath.Join(work, name))
				if err != nil {
					t.Fatal(err)
				}
				sigiltest.LintPEM(t, pemBytes)
				linted++
			}
			if linted != 4 {
				t.Fatalf("linted %d certificates", linted)
			}
			t.Logf("%s", out)
		})
	}
}

// runScript runs scripts/NAME against env with the AWS CLI v2 and fails
// unless it exits 0 having printed ok; extra adds environment variables.
func runScript(t *testing.T, env *sigiltest.Env, name, ok string, extra ...string) string {
	t.Helper()
	script := filepath.Join(sigiltest.ModuleRoot(), "scripts", name)
	cmd := exec.Command("bash", script, t.TempDir())
	cmd.Env = append(append(os.Environ(), "ENDPOINT="+env.URL, "AWS_BIN="+sigiltest.AWSCLIv2(t),
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"), extra...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), ok) {
		t.Fatalf("%s failed: %v\n%s", name, err, out)
	}
	return string(out)
}

// TestAWSCLIRevocation runs scripts/aws-cli-revocation.sh (docs/revocation.md)
// with the AWS CLI v2: CRLs and OCSP before and after revoke-certificate,
// checked with openssl, and an audit report.
func TestAWSCLIRevocation(t *testing.T) {
	sigiltest.Require(t, "openssl", "openssl")
	sigiltest.Require(t, "curl", "curl")
	env := sigiltest.Start(t, func(c *config.Config) { c.Revocation.Propagation = time.Second })
	t.Logf("%s", runScript(t, env, "aws-cli-revocation.sh", "revocation OK", "PUBLIC="+env.Server.PublicURL(), "OBJECTS="+env.Server.ObjectsDir()))
}

// TestAWSCLIACM runs scripts/aws-cli-acm.sh (docs/acm.md) with the AWS CLI
// v2: request, get, export (opened with openssl), list, tags, renew,
// import, re-import, account configuration and error codes.
func TestAWSCLIACM(t *testing.T) {
	sigiltest.Require(t, "openssl", "openssl")
	env := sigiltest.Start(t)
	t.Logf("%s", runScript(t, env, "aws-cli-acm.sh", "acm OK"))
}

func TestAWSCLISecretsManagerAndKMS(t *testing.T) {
	sigiltest.Require(t, "openssl", "openssl")
	sigiltest.Require(t, "python3", "python3")
	env := sigiltest.Start(t)
	runScript(t, env, "aws-cli-secrets.sh", "secrets OK")
}

// TestAWSCLIAccessControl runs scripts/aws-cli-iam.sh: `sigil admin`
// users, roles, policies and accounts; `aws sts`; ABAC and cross-account
// sharing through the AWS CLI.
func TestAWSCLIAccessControl(t *testing.T) {
	sigiltest.Require(t, "python3", "python3")
	env := sigiltest.Start(t)
	runScript(t, env, "aws-cli-iam.sh", "iam OK", "SIGIL_BIN="+sigiltest.Binary(t))
}

// TestAWSCLIEvents runs the EventBridge walk-through of docs/events.md
// with the AWS CLI: connection, API destination, rule, target, a webhook
// receiver that checks signatures, test-event-pattern, put-events.
func TestAWSCLIEvents(t *testing.T) {
	sigiltest.Require(t, "python3", "python3")
	env := sigiltest.Start(t)
	runScript(t, env, "aws-cli-events.sh", "events OK")
}

// TestFunctionCommand registers, lists and removes a rotation function with
// `sigil function`, configured like the AWS CLI.
func TestFunctionCommand(t *testing.T) {
	env := sigiltest.Start(t)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(sigiltest.Binary(t), append([]string{"function"}, args...)...)
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+env.URL, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("create", "db-rotator", "--url", "https://rotator.example/rotate")
	if err != nil || !strings.Contains(out, `"FunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:db-rotator"`) || !strings.Contains(out, "SigningSecret") {
		t.Fatalf("create: %v\n%s", err, out)
	}
	if out, err := run("create", "db-rotator", "--url", "https://rotator.example/rotate"); err == nil || !strings.Contains(out, "ResourceExistsException") {
		t.Fatalf("duplicate: %v\n%s", err, out)
	}
	if out, err := run("create", "bad", "--url", "ftp://x"); err == nil || !strings.Contains(out, "InvalidParameterException") {
		t.Fatalf("bad URL: %v\n%s", err, out)
	}
	out, err = run("list")
	if err != nil || !strings.Contains(out, "db-rotator") || strings.Contains(out, "SigningSecret") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if out, err := run("delete", "db-rotator"); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if out, _ := run("list"); strings.Contains(out, "db-rotator") {
		t.Fatalf("still listed:\n%s", out)
	}
}
