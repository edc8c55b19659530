package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// Key formats.
const (
	KeyPEM          = "PEM"           // unencrypted PKCS#8
	KeyPEMEncrypted = "PEM_ENCRYPTED" // PKCS#8 encrypted with the deployment's passphrase
	KeyPKCS12       = "PKCS12"        // one PKCS#12 file with key, certificate and chain
)

// Profile says how a certificate is installed on an agent's machine: the
// files (relative names in Directory, or absolute paths), who owns them,
// the key format, the command that makes the server load them, and where
// to check that it serves the new certificate. Empty fields of a
// deployment's overrides keep the profile's values.
type Profile struct {
	Name        string `json:",omitempty"`
	Description string `json:",omitempty"`
	// Directory holds the files; "{deployment}" is replaced by the
	// deployment's name.
	Directory       string `json:",omitempty"`
	CertificateFile string `json:",omitempty"` // the leaf alone
	ChainFile       string `json:",omitempty"` // the chain (no leaf)
	FullChainFile   string `json:",omitempty"` // leaf then chain
	KeyFile         string `json:",omitempty"` // the private key (PEM formats)
	PKCS12File      string `json:",omitempty"` // the PKCS#12 bundle (PKCS12 format)
	// PassphraseFile, when set, receives the key's passphrase (mode 0600),
	// for servers that read it from a file (nginx ssl_password_file).
	PassphraseFile string `json:",omitempty"`
	KeyFormat      string `json:",omitempty"`
	Owner          string `json:",omitempty"` // user name or ID (default: the agent's user)
	Group          string `json:",omitempty"`
	FileMode       string `json:",omitempty"` // octal, certificate files (default 0644)
	KeyMode        string `json:",omitempty"` // octal, key, bundle and passphrase files (default 0600)
	// ReloadCommand is run (without a shell) after the files are written
	// and again after a rollback.
	ReloadCommand []string `json:",omitempty"`
	// VerifyAddress is host:port of the TLS listener that must then serve
	// the new certificate; VerifyServerName its SNI name (default: the
	// certificate's first DNS name).
	VerifyAddress    string `json:",omitempty"`
	VerifyServerName string `json:",omitempty"`
	VerifyTimeout    int    `json:",omitempty"` // seconds (default 15)
	// Builtin marks the profiles Sigil ships (read-only).
	Builtin bool `json:",omitempty"`
}

// Builtins are the profiles every account has.
var Builtins = map[string]Profile{
	"nginx": {Name: "nginx", Builtin: true, Description: "nginx: ssl_certificate fullchain.pem; ssl_certificate_key privkey.pem",
		Directory: "/etc/nginx/sigil/{deployment}", CertificateFile: "cert.pem", ChainFile: "chain.pem",
		FullChainFile: "fullchain.pem", KeyFile: "privkey.pem", KeyFormat: KeyPEM,
		ReloadCommand: []string{"nginx", "-s", "reload"}, VerifyAddress: "127.0.0.1:443"},
	"apache": {Name: "apache", Builtin: true, Description: "Apache httpd 2.4: SSLCertificateFile fullchain.pem; SSLCertificateKeyFile privkey.pem",
		Directory: "/etc/apache2/sigil/{deployment}", CertificateFile: "cert.pem", ChainFile: "chain.pem",
		FullChainFile: "fullchain.pem", KeyFile: "privkey.pem", KeyFormat: KeyPEM,
		ReloadCommand: []string{"apachectl", "graceful"}, VerifyAddress: "127.0.0.1:443"},
}

// merge returns p with o's non-empty fields over it.
func merge(p, o Profile) Profile {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&p.Directory, o.Directory)
	set(&p.CertificateFile, o.CertificateFile)
	set(&p.ChainFile, o.ChainFile)
	set(&p.FullChainFile, o.FullChainFile)
	set(&p.KeyFile, o.KeyFile)
	set(&p.PKCS12File, o.PKCS12File)
	set(&p.PassphraseFile, o.PassphraseFile)
	set(&p.KeyFormat, o.KeyFormat)
	set(&p.Owner, o.Owner)
	set(&p.Group, o.Group)
	set(&p.FileMode, o.FileMode)
	set(&p.KeyMode, o.KeyMode)
	set(&p.VerifyAddress, o.VerifyAddress)
	set(&p.VerifyServerName, o.VerifyServerName)
	if len(o.ReloadCommand) > 0 {
		p.ReloadCommand = o.ReloadCommand
	}
	if o.KeyFormat == KeyPKCS12 && o.KeyFile == "" {
		p.KeyFile = "" // the key goes into the bundle only
	}
	if o.VerifyTimeout != 0 {
		p.VerifyTimeout = o.VerifyTimeout
	}
	return p
}

// resolve fills defaults and the deployment name, and checks the result.
func (p Profile) resolve(deployment string) (Profile, error) {
	p.Directory = strings.ReplaceAll(p.Directory, "{deployment}", deployment)
	if p.KeyFormat == "" {
		p.KeyFormat = KeyPEM
	}
	if p.FileMode == "" {
		p.FileMode = "0644"
	}
	if p.KeyMode == "" {
		p.KeyMode = "0600"
	}
	if p.VerifyTimeout == 0 {
		p.VerifyTimeout = 15
	}
	p.Builtin = false
	return p, p.check()
}

// Files returns the absolute paths the profile writes.
func (p Profile) Files() []string {
	var out []string
	for _, f := range []string{p.CertificateFile, p.ChainFile, p.FullChainFile, p.KeyFile, p.PKCS12File, p.PassphraseFile} {
		if f == "" {
			continue
		}
		if !path.IsAbs(f) {
			f = path.Join(p.Directory, f)
		}
		out = append(out, f)
	}
	return out
}

func (p Profile) check() error {
	switch p.KeyFormat {
	case KeyPEM, KeyPEMEncrypted:
		if p.KeyFile == "" {
			return invalid("The %s key format needs a KeyFile.", p.KeyFormat)
		}
		if p.CertificateFile == "" && p.FullChainFile == "" {
			return invalid("A profile needs a CertificateFile or a FullChainFile.")
		}
	case KeyPKCS12:
		if p.PKCS12File == "" {
			return invalid("The PKCS12 key format needs a PKCS12File.")
		}
		if p.KeyFile != "" {
			return invalid("The PKCS12 key format writes the key into the PKCS12File only; remove KeyFile.")
		}
	default:
		return invalid("The key format %q is not one of PEM, PEM_ENCRYPTED, PKCS12.", p.KeyFormat)
	}
	if p.PassphraseFile != "" && p.KeyFormat == KeyPEM {
		return invalid("A PassphraseFile needs the PEM_ENCRYPTED or PKCS12 key format.")
	}
	if !path.IsAbs(p.Directory) {
		for _, f := range []string{p.CertificateFile, p.ChainFile, p.FullChainFile, p.KeyFile, p.PKCS12File, p.PassphraseFile} {
			if f != "" && !path.IsAbs(f) {
				return invalid("The Directory %q is not an absolute path (files with relative names go there).", p.Directory)
			}
		}
	}
	for _, f := range []string{p.Directory, p.CertificateFile, p.ChainFile, p.FullChainFile, p.KeyFile, p.PKCS12File, p.PassphraseFile} {
		if f != "" && (path.Clean(f) != f || slices.Contains(strings.Split(f, "/"), "..")) {
			return invalid("The path %q is not clean (no '..', '.', '//' or trailing '/').", f)
		}
	}
	seen := map[string]bool{}
	for _, f := range p.Files() {
		if seen[f] {
			return invalid("The profile writes %s twice.", f)
		}
		seen[f] = true
	}
	for _, m := range []string{p.FileMode, p.KeyMode} {
		if v, err := strconv.ParseUint(m, 8, 32); err != nil || v > 0o777 {
			return invalid("The file mode %q is not an octal permission such as 0644.", m)
		}
	}
	if km, _ := strconv.ParseUint(p.KeyMode, 8, 32); km&0o007 != 0 {
		return invalid("The key mode %s lets every user read the key; use 0600 or 0640.", p.KeyMode)
	}
	if len(p.ReloadCommand) == 0 || p.ReloadCommand[0] == "" {
		return invalid("A profile needs a ReloadCommand (argv, run without a shell), such as [\"nginx\",\"-s\",\"reload\"].")
	}
	if _, port, err := net.SplitHostPort(p.VerifyAddress); err != nil || port == "" {
		return invalid("The VerifyAddress %q is not host:port.", p.VerifyAddress)
	}
	if p.VerifyTimeout < 1 || p.VerifyTimeout > 300 {
		return invalid("VerifyTimeout is 1 to 300 seconds.")
	}
	return nil
}

// PutProfile creates or replaces a custom install profile.
func (s *Deployments) PutProfile(ctx context.Context, p iam.Principal, prof Profile) error {
	if err := s.authorize(ctx, p, "PutProfile", s.arn(p.Account, "profile/"+prof.Name)); err != nil {
		return err
	}
	if !nameRE.MatchString(prof.Name) {
		return invalid("A profile name is 1 to 64 letters, digits, '.', '_' and '-'.")
	}
	if _, ok := Builtins[prof.Name]; ok {
		return invalid("The profile %s is built in; choose another name (a deployment can override its fields).", prof.Name)
	}
	if _, err := prof.resolve("example"); err != nil {
		return err
	}
	prof.Builtin = false
	spec, _ := json.Marshal(prof)
	now := s.clock.Now()
	return s.store.Update(ctx, func(tx store.Tx) error {
		created := now
		if old, err := tx.Deploy().GetProfile(ctx, p.Account, prof.Name); err == nil {
			created = old.CreatedAt
		}
		return tx.Deploy().PutProfile(ctx, &store.DeployProfile{Account: p.Account, Name: prof.Name, Spec: spec, CreatedAt: created, UpdatedAt: now})
	})
}

// ListProfiles lists the built-in profiles and the account's own.
func (s *Deployments) ListProfiles(ctx context.Context, p iam.Principal) ([]Profile, error) {
	if err := s.authorize(ctx, p, "ListProfiles", s.arn(p.Account, "profile/*")); err != nil {
		return nil, err
	}
	out := []Profile{Builtins["apache"], Builtins["nginx"]}
	err := s.store.View(ctx, func(tx store.Tx) error {
		ps, err := tx.Deploy().ListProfiles(ctx, p.Account)
		for _, sp := range ps {
			var prof Profile
			if json.Unmarshal(sp.Spec, &prof) == nil {
				out = append(out, prof)
			}
		}
		return err
	})
	return out, err
}

// DeleteProfile deletes a custom profile no deployment uses.
func (s *Deployments) DeleteProfile(ctx context.Context, p iam.Principal, name string) error {
	if err := s.authorize(ctx, p, "DeleteProfile", s.arn(p.Account, "profile/"+name)); err != nil {
		return err
	}
	if _, ok := Builtins[name]; ok {
		return invalid("The profile %s is built in and cannot be deleted.", name)
	}
	return s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Deploy().GetProfile(ctx, p.Account, name); errors.Is(err, store.ErrNotFound) {
			return notFound("Profile %s not found.", name)
		} else if err != nil {
			return err
		}
		n, err := tx.Deploy().ProfileInUse(ctx, p.Account, name)
		if err != nil {
			return err
		}
		if n > 0 {
			return errStateInUse("The profile %s is used by %d deployment(s).", name, n)
		}
		return tx.Deploy().DeleteProfile(ctx, p.Account, name)
	})
}

// profile returns a named profile of the account.
func (s *Deployments) profile(ctx context.Context, tx store.Tx, account, name string) (Profile, error) {
	if b, ok := Builtins[name]; ok {
		return b, nil
	}
	sp, err := tx.Deploy().GetProfile(ctx, account, name)
	if errors.Is(err, store.ErrNotFound) {
		return Profile{}, notFound("Profile %s not found (built in: apache, nginx).", name)
	}
	if err != nil {
		return Profile{}, err
	}
	var prof Profile
	if err := json.Unmarshal(sp.Spec, &prof); err != nil {
		return Profile{}, err
	}
	return prof, nil
}
