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

// newFunction is `sigil function`: register, list and remove the webhook
// rotation functions RotateSecret can name. It talks to a running server
// with the same settings as the AWS CLI: AWS_ENDPOINT_URL (or
// --endpoint-url), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION and AWS_CA_BUNDLE.
func newFunction(stdout io.Writer) *cobra.Command {
	var endpoint, region, serverCA string
	cmd := &cobra.Command{
		Use:   "function",
		Short: "Manage rotation functions (HTTPS webhooks that rotate secrets)",
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&endpoint, "endpoint-url", os.Getenv("AWS_ENDPOINT_URL"), "Sigil API URL (env AWS_ENDPOINT_URL)")
	pf.StringVar(&region, "region", firstEnv("us-east-1", "AWS_REGION", "AWS_DEFAULT_REGION"), "region (env AWS_REGION)")
	pf.StringVar(&serverCA, "ca-bundle", os.Getenv("AWS_CA_BUNDLE"), "PEM CAs that sign the Sigil API's certificate (env AWS_CA_BUNDLE)")
	call := func(ctx context.Context, target string, in, out any) error {
		if endpoint == "" {
			return fmt.Errorf("set --endpoint-url or AWS_ENDPOINT_URL to the Sigil API")
		}
		key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		if key == "" || secret == "" {
			return fmt.Errorf("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the credentials file written by `sigil serve` has them)")
		}
		hc := &http.Client{Timeout: 30 * time.Second}
		if serverCA != "" {
			pem, err := os.ReadFile(serverCA)
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%s holds no PEM certificate", serverCA)
			}
			hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
		}
		creds := aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
		return functions.Call(ctx, hc, endpoint, creds, region, target, in, out)
	}
	printJSON := func(v any) {
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(stdout, string(b))
	}

	var url, fnCA string
	create := &cobra.Command{
		Use:   "create NAME --url https://...",
		Short: "Register a rotation function; prints its ARN and its signing secret (shown only once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := functions.CreateInput{Name: args[0], URL: url}
			if fnCA != "" {
				b, err := os.ReadFile(fnCA)
				if err != nil {
					return err
				}
				in.CABundle = string(b)
			}
			var out functions.Function
			if err := call(cmd.Context(), "SigilFunctions.CreateRotationFunction", in, &out); err != nil {
				return err
			}
			printJSON(out)
			return nil
		},
	}
	create.Flags().StringVar(&url, "url", "", "the function's HTTPS URL")
	create.Flags().StringVar(&fnCA, "function-ca-bundle", "", "PEM CAs that sign the function's certificate (default: system roots)")
	create.MarkFlagRequired("url")

	list := &cobra.Command{
		Use:   "list",
		Short: "List rotation functions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out functions.ListOutput
			if err := call(cmd.Context(), "SigilFunctions.ListRotationFunctions", struct{}{}, &out); err != nil {
				return err
			}
			printJSON(out)
			return nil
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a rotation function",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd.Context(), "SigilFunctions.DeleteRotationFunction", map[string]string{"Name": args[0]}, nil)
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

func firstEnv(def string, names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return def
}
