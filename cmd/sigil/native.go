package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/sigilhq/sigil/internal/api/functions"
)

// nativeClient calls Sigil's native AWS-JSON APIs (SigilFunctions,
// SigilAdmin) with the same settings as the AWS CLI: AWS_ENDPOINT_URL (or
// --endpoint-url), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION and AWS_CA_BUNDLE.
type nativeClient struct {
	endpoint, region, serverCA string
	stdout                     io.Writer
}

// flags registers the client's persistent flags on cmd.
func (c *nativeClient) flags(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&c.endpoint, "endpoint-url", os.Getenv("AWS_ENDPOINT_URL"), "Sigil API URL (env AWS_ENDPOINT_URL)")
	pf.StringVar(&c.region, "region", firstEnv("us-east-1", "AWS_REGION", "AWS_DEFAULT_REGION"), "region (env AWS_REGION)")
	pf.StringVar(&c.serverCA, "ca-bundle", os.Getenv("AWS_CA_BUNDLE"), "PEM CAs that sign the Sigil API's certificate (env AWS_CA_BUNDLE)")
}

// call sends one operation (target such as "SigilAdmin.CreateUser").
func (c *nativeClient) call(ctx context.Context, target string, in, out any) error {
	if c.endpoint == "" {
		return fmt.Errorf("set --endpoint-url or AWS_ENDPOINT_URL to the Sigil API")
	}
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	if key == "" || secret == "" {
		return fmt.Errorf("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the credentials file written by `sigil serve` has them)")
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	if c.serverCA != "" {
		pem, err := os.ReadFile(c.serverCA)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", c.serverCA)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
	return functions.Call(ctx, hc, c.endpoint, creds, c.region, target, in, out)
}

// print writes v as indented JSON.
func (c *nativeClient) print(v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintln(c.stdout, string(b))
}

func firstEnv(def string, names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return def
}
