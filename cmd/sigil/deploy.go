package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	apideploy "github.com/sigilhq/sigil/internal/api/deploy"
	"github.com/sigilhq/sigil/internal/deploy"
)

// newDeploy is `sigil deploy`: enrolment tokens, agents, install profiles,
// deployments and the inventory, through the native SigilDeploy API with
// the AWS CLI's settings (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
func newDeploy(stdout io.Writer) *cobra.Command {
	c := &nativeClient{stdout: stdout}
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy certificates to servers running `sigil agent`, and see where they are installed",
	}
	c.flags(cmd)
	op := func(cc *cobra.Command, target string, in any) error {
		var out json.RawMessage
		if err := c.call(cc.Context(), "SigilDeploy."+target, in, &out); err != nil {
			return err
		}
		if len(out) > 0 && string(out) != "{}" {
			var v any
			json.Unmarshal(out, &v)
			c.print(v)
		}
		return nil
	}

	// Tokens.
	token := &cobra.Command{Use: "token", Short: "One-time enrolment tokens for agents"}
	var tags []string
	var desc string
	var lifetime time.Duration
	tokenCreate := &cobra.Command{
		Use:   "create --tag KEY=VALUE ...",
		Short: "Create a one-time enrolment token; the agent that uses it gets these tags",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := parseTagMap(tags)
			if err != nil {
				return err
			}
			var out apideploy.Token
			if err := c.call(cmd.Context(), "SigilDeploy.CreateEnrollmentToken", apideploy.CreateTokenInput{Tags: t, Description: desc,
				LifetimeSeconds: int64(lifetime / time.Second)}, &out); err != nil {
				return err
			}
			c.print(out)
			fmt.Fprintf(cmd.ErrOrStderr(), "\nOn the server, run once (the token works only once, until %s):\n  sigil agent --server %s --ca-sha256 %s --token %s\n",
				out.ExpiresAt.UTC().Format(time.RFC3339), out.AgentEndpoint, out.AgentCaSha256, out.Token)
			return nil
		},
	}
	tokenCreate.Flags().StringArrayVar(&tags, "tag", nil, "a tag of the agent, KEY=VALUE (repeat)")
	tokenCreate.Flags().StringVar(&desc, "description", "", "what the token is for")
	tokenCreate.Flags().DurationVar(&lifetime, "lifetime", 0, "how long the token may be used (default 24h, at most 720h)")
	token.AddCommand(tokenCreate,
		&cobra.Command{Use: "list", Short: "List enrolment tokens", Args: cobra.NoArgs,
			RunE: func(cc *cobra.Command, _ []string) error { return op(cc, "ListEnrollmentTokens", struct{}{}) }},
		&cobra.Command{Use: "delete TOKEN_ID", Short: "Revoke an enrolment token", Args: cobra.ExactArgs(1),
			RunE: func(cc *cobra.Command, a []string) error {
				return op(cc, "DeleteEnrollmentToken", map[string]string{"TokenId": a[0]})
			}})

	// Agents.
	agents := &cobra.Command{Use: "agent", Short: "Enrolled agents"}
	var addTags, removeTags []string
	tag := &cobra.Command{Use: "tag AGENT_ID --tag KEY=VALUE --remove KEY", Short: "Change an agent's tags", Args: cobra.ExactArgs(1),
		RunE: func(cc *cobra.Command, a []string) error {
			t, err := parseTagMap(addTags)
			if err != nil {
				return err
			}
			return op(cc, "TagAgent", apideploy.TagAgentInput{AgentId: a[0], Tags: t, RemoveKeys: removeTags})
		}}
	tag.Flags().StringArrayVar(&addTags, "tag", nil, "KEY=VALUE to add or replace (repeat)")
	tag.Flags().StringArrayVar(&removeTags, "remove", nil, "a tag key to remove (repeat)")
	agents.AddCommand(
		&cobra.Command{Use: "list", Short: "List agents (ACTIVE, STALE, DEREGISTERED)", Args: cobra.NoArgs,
			RunE: func(cc *cobra.Command, _ []string) error { return op(cc, "ListAgents", struct{}{}) }},
		&cobra.Command{Use: "describe AGENT_ID", Short: "An agent and what it holds", Args: cobra.ExactArgs(1),
			RunE: func(cc *cobra.Command, a []string) error {
				return op(cc, "DescribeAgent", map[string]string{"AgentId": a[0]})
			}},
		tag,
		&cobra.Command{Use: "deregister AGENT_ID", Short: "Revoke an agent's identity at once", Args: cobra.ExactArgs(1),
			RunE: func(cc *cobra.Command, a []string) error {
				return op(cc, "DeregisterAgent", map[string]string{"AgentId": a[0]})
			}})

	// Profiles.
	profile := &cobra.Command{Use: "profile", Short: "Install profiles (built in: nginx, apache)"}
	profile.AddCommand(
		&cobra.Command{Use: "put FILE.json", Short: "Create or replace a custom profile from a JSON file", Args: cobra.ExactArgs(1),
			RunE: func(cc *cobra.Command, a []string) error {
				var p deploy.Profile
				if err := readJSONFile(a[0], &p); err != nil {
					return err
				}
				return op(cc, "PutProfile", p)
			}},
		&cobra.Command{Use: "list", Short: "List profiles", Args: cobra.NoArgs,
			RunE: func(cc *cobra.Command, _ []string) error { return op(cc, "ListProfiles", struct{}{}) }},
		&cobra.Command{Use: "delete NAME", Short: "Delete a custom profile", Args: cobra.ExactArgs(1),
			RunE: func(cc *cobra.Command, a []string) error {
				return op(cc, "DeleteProfile", map[string]string{"Name": a[0]})
			}})

	// Deployments.
	var in apideploy.CreateInput
	var targets []string
	var overridesFile, reload string
	var o deploy.Profile
	create := &cobra.Command{
		Use:   "create NAME (--certificate-arn ARN | --secret-id ID) --target KEY=VALUE --profile nginx",
		Short: "Deploy a certificate to every agent whose tags match, now and after every renewal or rotation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cc *cobra.Command, a []string) error {
			in.Name = a[0]
			t, err := parseTagMap(targets)
			if err != nil {
				return err
			}
			in.TargetTags = t
			if overridesFile != "" {
				if err := readJSONFile(overridesFile, &o); err != nil {
					return err
				}
			}
			if reload != "" {
				o.ReloadCommand = strings.Fields(reload)
			}
			if o.Directory != "" || len(o.ReloadCommand) > 0 || o.VerifyAddress != "" || o.KeyFormat != "" || overridesFile != "" || o.VerifyServerName != "" {
				in.Overrides = &o
			}
			return op(cc, "CreateDeployment", in)
		},
	}
	fl := create.Flags()
	fl.StringVar(&in.CertificateArn, "certificate-arn", "", "an ACM certificate (private, export enabled)")
	fl.StringVar(&in.SecretId, "secret-id", "", "a secret holding CERTIFICATE_PEM, PRIVATE_KEY_PEM, CERTIFICATE_CHAIN_PEM")
	fl.StringArrayVar(&targets, "target", nil, "select agents by tag KEY=VALUE (repeat: all must match)")
	fl.StringVar(&in.TargetAccount, "target-account", "", "select agents of this account (it must trust yours: sigil deploy trust set)")
	fl.StringVar(&in.Profile, "profile", "", "install profile: nginx, apache or a custom one")
	fl.StringVar(&overridesFile, "overrides", "", "JSON file of profile fields to override")
	fl.StringVar(&o.Directory, "directory", "", "override: where the files go")
	fl.StringVar(&reload, "reload-command", "", "override: the reload command (split on spaces, run without a shell)")
	fl.StringVar(&o.VerifyAddress, "verify-address", "", "override: HOST:PORT that must serve the new certificate")
	fl.StringVar(&o.VerifyServerName, "verify-server-name", "", "override: SNI name for the verification")
	fl.StringVar(&o.KeyFormat, "key-format", "", "override: PEM, PEM_ENCRYPTED or PKCS12")
	create.MarkFlagRequired("target")
	create.MarkFlagRequired("profile")

	var inv apideploy.InventoryInput
	inventory := &cobra.Command{Use: "inventory", Short: "Where certificates are installed: agent, paths, serial, time, status", Args: cobra.NoArgs,
		RunE: func(cc *cobra.Command, _ []string) error { return op(cc, "ListInstallations", inv) }}
	inventory.Flags().StringVar(&inv.SourceArn, "source-arn", "", "only this certificate or secret")
	inventory.Flags().StringVar(&inv.AgentId, "agent-id", "", "only this agent")
	inventory.Flags().StringVar(&inv.Deployment, "deployment", "", "only this deployment")

	trust := &cobra.Command{Use: "trust", Short: "Accounts whose deployments may select this account's agents"}
	trust.AddCommand(
		&cobra.Command{Use: "set [ACCOUNT_ID...]", Short: "Trust exactly these accounts (none: only this account)",
			RunE: func(cc *cobra.Command, a []string) error {
				return op(cc, "PutDeploymentTrust", apideploy.Trust{TrustedAccounts: append([]string{}, a...)})
			}},
		&cobra.Command{Use: "get", Short: "Show the trusted accounts", Args: cobra.NoArgs,
			RunE: func(cc *cobra.Command, _ []string) error { return op(cc, "GetDeploymentTrust", struct{}{}) }})

	cmd.AddCommand(token, agents, profile, create, inventory, trust,
		&cobra.Command{Use: "list", Short: "List deployments", Args: cobra.NoArgs,
			RunE: func(cc *cobra.Command, _ []string) error { return op(cc, "ListDeployments", struct{}{}) }},
		&cobra.Command{Use: "describe NAME", Short: "A deployment and its targets", Args: cobra.ExactArgs(1),
			RunE: func(cc *cobra.Command, a []string) error {
				return op(cc, "DescribeDeployment", map[string]string{"Name": a[0]})
			}},
		&cobra.Command{Use: "redeploy NAME", Short: "Install the current version on every target again", Args: cobra.ExactArgs(1),
			RunE: func(cc *cobra.Command, a []string) error { return op(cc, "Redeploy", map[string]string{"Name": a[0]}) }},
		&cobra.Command{Use: "delete NAME", Short: "Stop a deployment (installed files stay)", Args: cobra.ExactArgs(1),
			RunE: func(cc *cobra.Command, a []string) error {
				return op(cc, "DeleteDeployment", map[string]string{"Name": a[0]})
			}})
	return cmd
}

func parseTagMap(list []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
