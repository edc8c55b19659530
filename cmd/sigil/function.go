package main

import (
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/sigilhq/sigil/internal/api/functions"
)

// newFunction is `sigil function`: register, list and remove the webhook
// rotation functions RotateSecret can name. It talks to a running server
// with the same settings as the AWS CLI: AWS_ENDPOINT_URL (or
// --endpoint-url), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION and AWS_CA_BUNDLE.
func newFunction(stdout io.Writer) *cobra.Command {
	c := &nativeClient{stdout: stdout}
	cmd := &cobra.Command{
		Use:   "function",
		Short: "Manage rotation functions (HTTPS webhooks that rotate secrets)",
	}
	c.flags(cmd)
	call, printJSON := c.call, c.print

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
