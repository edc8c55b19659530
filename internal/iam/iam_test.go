package iam

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/seal"
	"github.com/sigilhq/sigil/internal/store/sqlstore"
)

func newService(t testing.TB) (*Service, *clock.Fake) {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mk, _ := seal.NewMasterKey(bytes.Repeat([]byte{5}, 32))
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return New(st, seal.NewKeyring(mk), clk), clk
}

func TestBootstrapOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t)
	res, err := s.Bootstrap(ctx)
	if err != nil || res == nil {
		t.Fatalf("bootstrap: %v %v", res, err)
	}
	if !regexp.MustCompile(`^[1-9][0-9]{11}$`).MatchString(res.Account) ||
		!regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`).MatchString(res.AccessKeyID) || len(res.SecretKey) != 40 {
		t.Fatalf("bootstrap identity malformed: %+v", res)
	}
	again, err := s.Bootstrap(ctx)
	if err != nil || again != nil {
		t.Fatalf("second bootstrap created another admin: %+v %v", again, err)
	}
	cred, err := s.LookupAccessKey(ctx, res.AccessKeyID)
	if err != nil || string(cred.Secret) != res.SecretKey || cred.Principal.Account != res.Account || cred.Principal.UserName != "admin" {
		t.Fatalf("lookup: %+v %v", cred, err)
	}
	// The first administrator holds AdministratorAccess in its account, and
	// nothing in another.
	if err := s.Authorize(ctx, cred.Principal, Request{Action: "acm-pca:IssueCertificate",
		Resource: "arn:aws:acm-pca:us-east-1:" + res.Account + ":certificate-authority/x"}); err != nil {
		t.Fatalf("administrator refused: %v", err)
	}
	if err := s.Authorize(ctx, cred.Principal, Request{Action: "acm-pca:IssueCertificate",
		Resource: "arn:aws:acm-pca:us-east-1:222222222222:certificate-authority/x"}); errs.KindOf(err) != errs.Denied {
		t.Fatalf("administrator allowed in another account: %v", err)
	}
	if _, err := s.LookupAccessKey(ctx, "AKIANOPE"); errs.KindOf(err) != errs.Unauthenticated {
		t.Fatalf("unknown key: %v", err)
	}
	// The dev key does not exist unless registered in memory.
	if _, err := s.LookupAccessKey(ctx, DevAccessKey); err == nil {
		t.Fatal("dev key accepted without --dev")
	}
}

func TestStaticKey(t *testing.T) {
	s, _ := newService(t)
	s.AddStaticKey(DevAccessKey, DevSecret, Principal{Account: DevAccount, ARN: "arn:aws:iam::000000000000:root", Admin: true})
	cred, err := s.LookupAccessKey(context.Background(), DevAccessKey)
	if err != nil || string(cred.Secret) != "test" || cred.Principal.AccessKeyID != "test" {
		t.Fatalf("%+v %v", cred, err)
	}
}

func TestAuthorize(t *testing.T) {
	s, _ := newService(t)
	admin := Principal{Account: "111111111111", ARN: "arn:aws:iam::111111111111:user/admin", Admin: true}
	ctx := context.Background()
	if err := s.Authorize(ctx, admin, Request{Action: "acm-pca:IssueCertificate", Resource: "arn:aws:acm-pca:us-east-1:111111111111:certificate-authority/x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Authorize(ctx, admin, Request{Action: "acm-pca:CreateCertificateAuthority", Resource: "*"}); err != nil {
		t.Fatal(err)
	}
	err := s.Authorize(ctx, admin, Request{Action: "acm-pca:IssueCertificate", Resource: "arn:aws:acm-pca:us-east-1:222222222222:certificate-authority/x"})
	if errs.KindOf(err) != errs.Denied {
		t.Fatalf("cross-account: %v", err)
	}
	if msg := errs.Message(err, ""); msg != "User: arn:aws:iam::111111111111:user/admin is not authorized to perform: acm-pca:IssueCertificate on resource: arn:aws:acm-pca:us-east-1:222222222222:certificate-authority/x" {
		t.Fatalf("message: %s", msg)
	}
	if err := s.Authorize(ctx, Principal{Account: "111111111111"}, Request{Action: "acm-pca:ListTags", Resource: "arn:aws:acm-pca:us-east-1:111111111111:certificate-authority/x"}); err == nil {
		t.Fatal("non-admin allowed")
	}
}
