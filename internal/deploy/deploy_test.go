package deploy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/secrets"
)

func TestProfileCheck(t *testing.T) {
	base := Builtins["nginx"]
	base.Directory = "/etc/ssl/x"
	cases := map[string]struct {
		mod  func(*Profile)
		want string // "" = valid
	}{
		"builtin nginx":         {func(*Profile) {}, ""},
		"pkcs12 drops key file": {func(p *Profile) { *p = merge(*p, Profile{KeyFormat: KeyPKCS12, PKCS12File: "b.p12"}) }, ""},
		"pkcs12 without file":   {func(p *Profile) { p.KeyFormat = KeyPKCS12; p.KeyFile = "" }, "PKCS12File"},
		"unknown format":        {func(p *Profile) { p.KeyFormat = "DER" }, "not one of"},
		"no key file":           {func(p *Profile) { p.KeyFile = "" }, "KeyFile"},
		"no certificate":        {func(p *Profile) { p.CertificateFile, p.FullChainFile = "", "" }, "CertificateFile"},
		"relative directory":    {func(p *Profile) { p.Directory = "certs" }, "absolute"},
		"dot dot":               {func(p *Profile) { p.KeyFile = "../shadow" }, "not clean"},
		"same file twice":       {func(p *Profile) { p.ChainFile = "cert.pem" }, "twice"},
		"world-readable key":    {func(p *Profile) { p.KeyMode = "0644" }, "every user"},
		"bad mode":              {func(p *Profile) { p.FileMode = "rw-r--r--" }, "octal"},
		"no reload":             {func(p *Profile) { p.ReloadCommand = nil }, "ReloadCommand"},
		"bad verify address":    {func(p *Profile) { p.VerifyAddress = "localhost" }, "host:port"},
		"passphrase with PEM":   {func(p *Profile) { p.PassphraseFile = "pass" }, "PassphraseFile"},
		"timeout too long":      {func(p *Profile) { p.VerifyTimeout = 301 }, "VerifyTimeout"},
		"absolute file elsewhere": {func(p *Profile) {
			p.Directory = ""
			p.CertificateFile, p.ChainFile, p.FullChainFile, p.KeyFile = "/a/c.pem", "", "", "/a/k.pem"
		}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := base
			tc.mod(&p)
			_, err := p.resolve("web")
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid profile refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error about %q", err, tc.want)
			case err != nil && errs.KindOf(err) != errs.Invalid:
				t.Fatalf("kind %v, want Invalid", errs.KindOf(err))
			}
		})
	}
}

func TestMergeAndResolve(t *testing.T) {
	p, err := merge(Builtins["apache"], Profile{ReloadCommand: []string{"systemctl", "reload", "apache2"}, VerifyAddress: "10.0.0.1:8443"}).resolve("shop")
	if err != nil {
		t.Fatal(err)
	}
	if p.Directory != "/etc/apache2/sigil/shop" || p.ReloadCommand[0] != "systemctl" || p.VerifyAddress != "10.0.0.1:8443" ||
		p.KeyMode != "0600" || p.FileMode != "0644" || p.VerifyTimeout != 15 || p.Builtin {
		t.Fatalf("resolved: %+v", p)
	}
	files := p.Files()
	want := []string{"/etc/apache2/sigil/shop/cert.pem", "/etc/apache2/sigil/shop/chain.pem", "/etc/apache2/sigil/shop/fullchain.pem", "/etc/apache2/sigil/shop/privkey.pem"}
	if strings.Join(files, ",") != strings.Join(want, ",") {
		t.Fatalf("files %v, want %v", files, want)
	}
	// The built-in profile itself is not changed by a merge.
	if Builtins["apache"].ReloadCommand[0] != "apachectl" {
		t.Fatal("merge changed the built-in profile")
	}
}

func TestMatches(t *testing.T) {
	tags := map[string]string{"env": "prod", "role": "web"}
	for sel, want := range map[string]bool{`{"role":"web"}`: true, `{"role":"web","env":"prod"}`: true,
		`{"role":"db"}`: false, `{"zone":"a"}`: false, `{"role":"web","env":"dev"}`: false} {
		if got := matches(tags, decodeTags([]byte(sel))); got != want {
			t.Errorf("matches(%s) = %v", sel, got)
		}
	}
}

// testBundle is a CA, a leaf for web.test and its key.
func testBundle(t *testing.T) (*bundle, *x509.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(0xabcdef), Subject: pkix.Name{CommonName: "web.test"}, DNSNames: []string{"web.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	p8, _ := x509.MarshalPKCS8PrivateKey(key)
	return &bundle{cert: pki.EncodeCertificatesPEM(der), chain: pki.EncodeCertificatesPEM(caDER),
		key: pki.EncodePEM("PRIVATE KEY", p8), serial: pki.SerialHex(tpl.SerialNumber)}, ca
}

func TestRenderFormats(t *testing.T) {
	b, ca := testBundle(t)
	pass := []byte("correct-horse-battery")
	byPath := func(files []File) map[string]File {
		m := map[string]File{}
		for _, f := range files {
			m[path.Base(f.Path)] = f
		}
		return m
	}

	p, _ := Builtins["nginx"].resolve("web")
	files, err := render(p, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := byPath(files)
	if len(m) != 4 || !m["privkey.pem"].Sensitive || m["privkey.pem"].Mode != "0600" || m["cert.pem"].Mode != "0644" || m["cert.pem"].Sensitive {
		t.Fatalf("PEM files: %+v", m)
	}
	full, err := pki.ParseCertificatesPEM(m["fullchain.pem"].Content)
	if err != nil || len(full) != 2 || !full[1].Equal(ca) || pki.SerialHex(full[0].SerialNumber) != b.serial {
		t.Fatalf("fullchain: %v %d", err, len(full))
	}
	if _, err := pki.ParsePrivateKeyPEM(m["privkey.pem"].Content); err != nil {
		t.Fatal(err)
	}

	enc, _ := merge(p, Profile{KeyFormat: KeyPEMEncrypted, PassphraseFile: "pass.txt"}).resolve("web")
	files, err = render(enc, b, pass)
	if err != nil {
		t.Fatal(err)
	}
	m = byPath(files)
	if !strings.Contains(string(m["privkey.pem"].Content), "ENCRYPTED PRIVATE KEY") || string(m["pass.txt"].Content) != string(pass)+"\n" || !m["pass.txt"].Sensitive {
		t.Fatalf("encrypted PEM files: %+v", m)
	}
	if _, err := pki.DecryptPKCS8PEM(m["privkey.pem"].Content, pass); err != nil {
		t.Fatalf("the encrypted key does not open with the passphrase: %v", err)
	}

	p12, _ := merge(p, Profile{KeyFormat: KeyPKCS12, PKCS12File: "site.p12"}).resolve("web")
	files, err = render(p12, b, pass)
	if err != nil {
		t.Fatal(err)
	}
	m = byPath(files)
	if _, ok := m["privkey.pem"]; ok {
		t.Fatal("PKCS12 also wrote a PEM key")
	}
	key, leaf, chain, err := pkcs12.DecodeChain(m["site.p12"].Content, string(pass))
	if err != nil || key == nil || pki.SerialHex(leaf.SerialNumber) != b.serial || len(chain) != 1 || !chain[0].Equal(ca) {
		t.Fatalf("PKCS#12: %v", err)
	}
}

func TestParseBundleErrors(t *testing.T) {
	b, _ := testBundle(t)
	str := func(v map[string]string) *string { raw, _ := json.Marshal(v); s := string(raw); return &s }
	for name, v := range map[string]*string{
		"not json":    ptr("hello"),
		"no key":      str(map[string]string{"CERTIFICATE_PEM": string(b.cert)}),
		"bad cert":    str(map[string]string{"CERTIFICATE_PEM": "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n", "PRIVATE_KEY_PEM": string(b.key)}),
		"binary only": nil,
	} {
		sv := secretValue(v)
		if _, err := parseBundle(sv); err == nil || errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
	good := secretValue(str(map[string]string{"CERTIFICATE_PEM": string(b.cert), "PRIVATE_KEY_PEM": string(b.key), "CERTIFICATE_CHAIN_PEM": string(b.chain)}))
	got, err := parseBundle(good)
	if err != nil || got.serial != b.serial {
		t.Fatalf("a good bundle: %v", err)
	}
}

func TestEnrolRefusesMalformedTokens(t *testing.T) {
	s := &Deployments{}
	for _, tok := range []string{"", "et-00", "et-0011223344556677.short", "xx-0011223344556677." + strings.Repeat("A", 43), "et-0011223344556677"} {
		_, err := s.Enrol(context.Background(), tok, nil, "h", "v")
		if errs.CodeOf(err) != CodeInvalidToken || strings.Contains(err.Error(), tok) && tok != "" {
			t.Errorf("token %q: %v", tok, err)
		}
	}
}

func ptr(s string) *string { return &s }

// FuzzProfile feeds profile documents (what PutProfile and deployment
// overrides accept) through validation: whatever it accepts writes only
// clean absolute paths with a key mode no other user can read.
func FuzzProfile(f *testing.F) {
	for _, p := range Builtins {
		b, _ := json.Marshal(p)
		f.Add(b)
	}
	f.Add([]byte(`{"Directory":"/x","KeyFile":"../k","CertificateFile":"c","ReloadCommand":["true"],"VerifyAddress":"a:1"}`))
	f.Add([]byte(`{"KeyFormat":"PKCS12","PKCS12File":"/p.p12","ReloadCommand":["x"],"VerifyAddress":"[::1]:443","KeyMode":"0640"}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var p Profile
		if json.Unmarshal(doc, &p) != nil {
			return
		}
		r, err := p.resolve("fuzz")
		if err != nil {
			return
		}
		for _, file := range r.Files() {
			if !path.IsAbs(file) || path.Clean(file) != file || slices.Contains(strings.Split(file, "/"), "..") {
				t.Fatalf("accepted path %q", file)
			}
		}
		if !strings.HasSuffix(r.KeyMode, "0") {
			t.Fatalf("accepted key mode %q", r.KeyMode)
		}
	})
}

func secretValue(s *string) *secrets.SecretValue {
	return &secrets.SecretValue{ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:t-abcdef", Value: secrets.Value{String: s}}
}
