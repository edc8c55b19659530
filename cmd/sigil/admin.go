package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sigilhq/sigil/internal/api/admin"
)

// newAdmin is `sigil admin`: accounts, users, roles, managed policies and
// access keys, through the native admin API (SigilAdmin.*) of a running
// server, with the AWS CLI's environment (see nativeClient).
func newAdmin(stdout io.Writer) *cobra.Command {
	c := &nativeClient{stdout: stdout}
	cmd := &cobra.Command{Use: "admin", Short: "Manage accounts, users, roles, policies and access keys"}
	c.flags(cmd)
	run := func(target string, in func(args []string) (any, error), out any) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			body, err := in(args)
			if err != nil {
				return err
			}
			if err := c.call(cmd.Context(), admin.TargetPrefix+"."+target, body, out); err != nil {
				return err
			}
			if out != nil {
				c.print(out)
			}
			return nil
		}
	}
	cmd.AddCommand(adminAccount(run), adminPrincipal("user", run), adminPrincipal("role", run), adminPolicy(run), adminAccessKey(run))
	return cmd
}

type runner func(target string, in func(args []string) (any, error), out any) func(*cobra.Command, []string) error

func adminAccount(run runner) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Create and list accounts (management account only)"}
	cmd.AddCommand(&cobra.Command{
		Use: "create NAME", Short: "Create an account with an administrator; prints its access key (the secret is shown only once)",
		Args: cobra.ExactArgs(1),
		RunE: run("CreateAccount", func(a []string) (any, error) { return admin.CreateAccountInput{Name: a[0]}, nil }, &admin.CreateAccountOutput{}),
	}, &cobra.Command{
		Use: "list", Short: "List accounts", Args: cobra.NoArgs,
		RunE: run("ListAccounts", func([]string) (any, error) { return struct{}{}, nil }, &admin.ListAccountsOutput{}),
	})
	return cmd
}

// adminPrincipal is `sigil admin user|role`.
func adminPrincipal(kind string, run runner) *cobra.Command {
	title := strings.ToUpper(kind[:1]) + kind[1:]
	nameField := title + "Name"
	named := func(a []string) (any, error) { return map[string]string{nameField: a[0]}, nil }
	var out any = &admin.UserOutput{}
	var list any = &admin.ListUsersOutput{}
	if kind == "role" {
		out, list = &admin.RoleOutput{}, &admin.ListRolesOutput{}
	}
	cmd := &cobra.Command{Use: kind, Short: "Manage " + kind + "s"}

	var path, trust string
	var tags []string
	var maxSession int
	create := &cobra.Command{
		Use: "create NAME", Short: "Create a " + kind, Args: cobra.ExactArgs(1),
		RunE: run("Create"+title, func(a []string) (any, error) {
			t, err := parseTags(tags)
			if err != nil {
				return nil, err
			}
			if kind == "user" {
				return admin.CreateUserInput{UserName: a[0], Path: path, Tags: t}, nil
			}
			doc, err := document(trust)
			if err != nil {
				return nil, err
			}
			return admin.CreateRoleInput{RoleName: a[0], Path: path, AssumeRolePolicyDocument: doc, MaxSessionDuration: maxSession, Tags: t}, nil
		}, out),
	}
	create.Flags().StringVar(&path, "path", "/", "path of the "+kind+" (e.g. /team/)")
	create.Flags().StringArrayVar(&tags, "tag", nil, "tag KEY=VALUE (repeatable)")
	if kind == "role" {
		create.Flags().StringVar(&trust, "trust-policy", "", "trust policy JSON, or file://PATH")
		create.Flags().IntVar(&maxSession, "max-session-duration", 0, "longest session in seconds (3600-43200)")
		create.MarkFlagRequired("trust-policy")
	}
	get := &cobra.Command{Use: "get NAME", Short: "Describe a " + kind, Args: cobra.ExactArgs(1), RunE: run("Get"+title, named, out)}
	ls := &cobra.Command{Use: "list", Short: "List " + kind + "s", Args: cobra.NoArgs,
		RunE: run("List"+title+"s", func([]string) (any, error) { return struct{}{}, nil }, list)}
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a " + kind + " (detach its policies and delete its keys first)",
		Args: cobra.ExactArgs(1), RunE: run("Delete"+title, named, nil)}
	tag := &cobra.Command{Use: "tag NAME KEY=VALUE...", Short: "Tag a " + kind, Args: cobra.MinimumNArgs(2),
		RunE: run("Tag"+title, func(a []string) (any, error) {
			t, err := parseTags(a[1:])
			return map[string]any{nameField: a[0], "Tags": t}, err
		}, nil)}
	untag := &cobra.Command{Use: "untag NAME KEY...", Short: "Remove tags from a " + kind, Args: cobra.MinimumNArgs(2),
		RunE: run("Untag"+title, func(a []string) (any, error) { return map[string]any{nameField: a[0], "TagKeys": a[1:]}, nil }, nil)}
	cmd.AddCommand(create, get, ls, del, tag, untag)
	if kind == "role" {
		var doc string
		upd := &cobra.Command{Use: "update-trust NAME --trust-policy JSON|file://PATH", Short: "Replace a role's trust policy",
			Args: cobra.ExactArgs(1), RunE: run("UpdateAssumeRolePolicy", func(a []string) (any, error) {
				d, err := document(doc)
				return admin.UpdateTrustInput{RoleName: a[0], PolicyDocument: d}, err
			}, nil)}
		upd.Flags().StringVar(&doc, "trust-policy", "", "trust policy JSON, or file://PATH")
		upd.MarkFlagRequired("trust-policy")
		cmd.AddCommand(upd)
	}
	return cmd
}

func adminPolicy(run runner) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Manage policies and attach them to users and roles"}
	var doc, desc, path string
	create := &cobra.Command{Use: "create NAME --document JSON|file://PATH", Short: "Create a customer managed policy",
		Args: cobra.ExactArgs(1), RunE: run("CreatePolicy", func(a []string) (any, error) {
			d, err := document(doc)
			return admin.CreatePolicyInput{PolicyName: a[0], Path: path, PolicyDocument: d, Description: desc}, err
		}, &admin.PolicyOutput{})}
	create.Flags().StringVar(&doc, "document", "", "policy JSON, or file://PATH")
	create.Flags().StringVar(&desc, "description", "", "description")
	create.Flags().StringVar(&path, "path", "/", "path")
	create.MarkFlagRequired("document")
	var newDoc string
	update := &cobra.Command{Use: "update ARN --document JSON|file://PATH", Short: "Replace a policy's document",
		Args: cobra.ExactArgs(1), RunE: run("UpdatePolicy", func(a []string) (any, error) {
			d, err := document(newDoc)
			return admin.UpdatePolicyInput{PolicyArn: a[0], PolicyDocument: d}, err
		}, nil)}
	update.Flags().StringVar(&newDoc, "document", "", "policy JSON, or file://PATH")
	update.MarkFlagRequired("document")
	byARN := func(a []string) (any, error) { return admin.PolicyArnInput{PolicyArn: a[0]}, nil }
	get := &cobra.Command{Use: "get ARN", Short: "Show a policy and its document", Args: cobra.ExactArgs(1),
		RunE: run("GetPolicy", byARN, &admin.PolicyOutput{})}
	ls := &cobra.Command{Use: "list", Short: "List customer and AWS managed policies", Args: cobra.NoArgs,
		RunE: run("ListPolicies", func([]string) (any, error) { return struct{}{}, nil }, &admin.ListPoliciesOutput{})}
	del := &cobra.Command{Use: "delete ARN", Short: "Delete a policy attached to nothing", Args: cobra.ExactArgs(1),
		RunE: run("DeletePolicy", byARN, nil)}
	attachment := func(verb string) *cobra.Command {
		var user, role string
		c := &cobra.Command{Use: strings.ToLower(verb) + " ARN --user NAME|--role NAME", Short: verb + " a policy",
			Args: cobra.ExactArgs(1)}
		c.RunE = func(cmd *cobra.Command, a []string) error {
			if (user == "") == (role == "") {
				return fmt.Errorf("give exactly one of --user and --role")
			}
			target := verb + "UserPolicy"
			if role != "" {
				target = verb + "RolePolicy"
			}
			return run(target, func(a []string) (any, error) {
				return admin.AttachInput{UserName: user, RoleName: role, PolicyArn: a[0]}, nil
			}, nil)(cmd, a)
		}
		c.Flags().StringVar(&user, "user", "", "user name")
		c.Flags().StringVar(&role, "role", "", "role name")
		return c
	}
	cmd.AddCommand(create, update, get, ls, del, attachment("Attach"), attachment("Detach"))
	return cmd
}

func adminAccessKey(run runner) *cobra.Command {
	cmd := &cobra.Command{Use: "access-key", Short: "Manage users' access keys"}
	var user string
	cmd.PersistentFlags().StringVar(&user, "user", "", "the user who owns the key")
	cmd.MarkPersistentFlagRequired("user")
	keyed := func(status string) func(a []string) (any, error) {
		return func(a []string) (any, error) {
			return admin.AccessKeyInput{UserName: user, AccessKeyID: a[0], Status: status}, nil
		}
	}
	cmd.AddCommand(&cobra.Command{
		Use: "create --user NAME", Short: "Create an access key; the secret is shown only once", Args: cobra.NoArgs,
		RunE: run("CreateAccessKey", func([]string) (any, error) { return admin.UserNameInput{UserName: user}, nil }, &admin.CreateAccessKeyOutput{}),
	}, &cobra.Command{
		Use: "list --user NAME", Short: "List a user's access keys", Args: cobra.NoArgs,
		RunE: run("ListAccessKeys", func([]string) (any, error) { return admin.UserNameInput{UserName: user}, nil }, &admin.ListAccessKeysOutput{}),
	}, &cobra.Command{
		Use: "deactivate KEY-ID --user NAME", Short: "Stop a key from working", Args: cobra.ExactArgs(1),
		RunE: run("UpdateAccessKey", keyed("Inactive"), nil),
	}, &cobra.Command{
		Use: "activate KEY-ID --user NAME", Short: "Make a key work again", Args: cobra.ExactArgs(1),
		RunE: run("UpdateAccessKey", keyed("Active"), nil),
	}, &cobra.Command{
		Use: "delete KEY-ID --user NAME", Short: "Delete a key", Args: cobra.ExactArgs(1),
		RunE: run("DeleteAccessKey", keyed(""), nil),
	})
	return cmd
}

// document reads a policy given inline or as file://PATH (as the AWS CLI
// takes them).
func document(v string) (string, error) {
	if p, ok := strings.CutPrefix(v, "file://"); ok {
		b, err := os.ReadFile(p)
		return string(b), err
	}
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("the policy document is empty")
	}
	return v, nil
}

func parseTags(list []string) ([]admin.Tag, error) {
	var out []admin.Tag
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("tag %q is not KEY=VALUE", kv)
		}
		out = append(out, admin.Tag{Key: k, Value: v})
	}
	return out, nil
}
