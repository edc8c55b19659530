package iam

import (
	"context"
	"testing"

	"github.com/sigilhq/sigil/internal/errs"
)

// TestAuthorizeRules checks the evaluation rules one at a time, with a
// user in account A (one identity policy) against resources of A and B.
func TestAuthorizeRules(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	res, err := s.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := s.LookupAccessKey(ctx, res.AccessKeyID)
	a := res.Account
	if _, err := s.CreatePrincipal(ctx, admin.Principal, PrincipalInput{Kind: KindUser, Name: "u"}); err != nil {
		t.Fatal(err)
	}
	pol, err := s.CreatePolicy(ctx, admin.Principal, "p", "/", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"svc:Allowed","Resource":"*"},
		{"Effect":"Deny","Action":"svc:Denied","Resource":"*"}]}`, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AttachPolicy(ctx, admin.Principal, KindUser, "u", pol.ARN); err != nil {
		t.Fatal(err)
	}
	key, _, err := s.CreateAccessKey(ctx, admin.Principal, "u")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := s.LookupAccessKey(ctx, key.ID)
	if err != nil {
		t.Fatal(err)
	}
	user := cred.Principal
	resA := "arn:aws:svc:us-east-1:" + a + ":thing/1"
	resB := "arn:aws:svc:us-east-1:222222222222:thing/1"
	grant := func(principal, action string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal + `"},"Action":"` + action + `","Resource":"*"}]}`
	}
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}`
	cases := []struct {
		name  string
		r     Request
		allow bool
	}{
		{"same account, identity allows", Request{Action: "svc:Allowed", Resource: resA}, true},
		{"same account, nothing allows", Request{Action: "svc:Other", Resource: resA}, false},
		{"same account, resource policy names the user", Request{Action: "svc:Other", Resource: resA, ResourcePolicy: grant(user.ARN, "svc:Other")}, true},
		{"same account, resource policy names only the account", Request{Action: "svc:Other", Resource: resA, ResourcePolicy: grant(a, "svc:Other")}, false},
		{"explicit deny in identity beats resource allow", Request{Action: "svc:Denied", Resource: resA, ResourcePolicy: grant(user.ARN, "*")}, false},
		{"explicit deny in resource policy beats identity allow", Request{Action: "svc:Allowed", Resource: resA, ResourcePolicy: deny}, false},
		{"other account, identity alone", Request{Action: "svc:Allowed", Resource: resB}, false},
		{"other account, resource alone", Request{Action: "svc:Other", Resource: resB, ResourcePolicy: grant(a, "svc:Other")}, false},
		{"other account, both", Request{Action: "svc:Allowed", Resource: resB, ResourcePolicy: grant(a, "svc:Allowed")}, true},
		{"other account, both, user named", Request{Action: "svc:Allowed", Resource: resB, ResourcePolicy: grant(user.ARN, "svc:Allowed")}, true},
		{"key policy naming the user, no identity allow", Request{Action: "svc:Other", Resource: resA, ResourcePolicy: grant(user.ARN, "svc:Other"), KeyPolicy: true}, true},
		{"key policy naming the account delegates: identity allows", Request{Action: "svc:Allowed", Resource: resA, ResourcePolicy: grant(a, "*"), KeyPolicy: true}, true},
		{"key policy naming the account delegates: identity silent", Request{Action: "svc:Other", Resource: resA, ResourcePolicy: grant(a, "*"), KeyPolicy: true}, false},
		{"key policy not matching: identity allow does not count", Request{Action: "svc:Allowed", Resource: resA, ResourcePolicy: grant("arn:aws:iam::"+a+":user/other", "*"), KeyPolicy: true}, false},
		{"key policy with no policy at all refuses", Request{Action: "svc:Allowed", Resource: resA, KeyPolicy: true}, false},
		{"trust policy naming the account: identity allows", Request{Action: "svc:Allowed", Resource: resA, ResourcePolicy: grant(a, "svc:Allowed"), Trust: true}, true},
		{"unparseable resource policy grants nothing", Request{Action: "svc:Other", Resource: resA, ResourcePolicy: `{"Statement":`}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.Authorize(ctx, user, c.r)
			if c.allow && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.allow {
				if errs.KindOf(err) != errs.Denied {
					t.Fatalf("allowed (%v)", err)
				}
				want := "User: " + user.ARN + " is not authorized to perform: " + c.r.Action + " on resource: " + c.r.Resource
				if msg := errs.Message(err, ""); msg != want {
					t.Fatalf("message %q", msg)
				}
			}
		})
	}

	// A change to a policy applies at once on this node.
	if err := s.UpdatePolicy(ctx, admin.Principal, pol.ARN, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"svc:Other","Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	if err := s.Authorize(ctx, user, Request{Action: "svc:Other", Resource: resA}); err != nil {
		t.Fatalf("updated policy not applied: %v", err)
	}
	if err := s.Authorize(ctx, user, Request{Action: "svc:Allowed", Resource: resA}); err == nil {
		t.Fatal("old policy still applied")
	}
	// Detaching takes it away; a deleted user's key stops working.
	if err := s.DetachPolicy(ctx, admin.Principal, KindUser, "u", pol.ARN); err != nil {
		t.Fatal(err)
	}
	if err := s.Authorize(ctx, user, Request{Action: "svc:Other", Resource: resA}); err == nil {
		t.Fatal("detached policy still applied")
	}
	if err := s.DeletePrincipal(ctx, admin.Principal, KindUser, "u"); errs.CodeOf(err) != CodeDeleteConflict {
		t.Fatalf("delete with a key: %v", err)
	}
	if err := s.SetAccessKeyStatus(ctx, admin.Principal, "u", key.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePrincipal(ctx, admin.Principal, KindUser, "u"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupAccessKey(ctx, key.ID); errs.KindOf(err) != errs.Unauthenticated {
		t.Fatalf("deleted user's key: %v", err)
	}
}
