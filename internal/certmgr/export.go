package certmgr

import (
	"context"
	"crypto/rand"
	"strings"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// Exported is a certificate with its chain and its private key encrypted
// under the caller's passphrase, all PEM.
type Exported struct {
	Certificate []byte
	Chain       []byte
	PrivateKey  []byte // encrypted PKCS#8 (PBES2, PBKDF2-SHA256, AES-256-CBC)
}

// validatePassphrase applies ACM's rules: 4 to 128 bytes of printable
// ASCII other than #, $ and %.
func validatePassphrase(p []byte) error {
	if len(p) == 0 {
		return required("passphrase")
	}
	if len(p) < 4 || len(p) > 128 {
		return errs.New(errs.Invalid, "The passphrase must be 4 to 128 bytes long; it is %d.", len(p))
	}
	for _, b := range p {
		if b < 0x20 || b > 0x7e || strings.IndexByte("#$%", b) >= 0 {
			return errs.New(errs.Invalid, "%s", "The passphrase may contain printable ASCII characters except #, $ and %.")
		}
	}
	return nil
}

// Export returns a certificate, its chain and its private key encrypted
// with passphrase. Exporting marks the certificate exported, which makes a
// private certificate eligible for managed renewal. The passphrase is never
// stored or logged.
func (s *Service) Export(ctx context.Context, p iam.Principal, arn string, passphrase []byte) (*Exported, error) {
	if _, err := s.authorizeARN(ctx, p, "acm:ExportCertificate", arn); err != nil {
		return nil, err
	}
	if err := validatePassphrase(passphrase); err != nil {
		return nil, err
	}
	return s.export(ctx, p, arn, func(key []byte) ([]byte, error) { return pki.EncryptPKCS8PEM(key, passphrase, rand.Reader) })
}

// ExportKey is Export for Sigil's own services (deployments), which
// re-encode the key at once: the key comes back as unencrypted PKCS#8 DER,
// sparing a passphrase round trip (two PBKDF2 passes, 96% of a
// deployment's fetch). Authorization, checks and the exported mark are
// Export's. No API reaches it.
func (s *Service) ExportKey(ctx context.Context, p iam.Principal, arn string) (*Exported, error) {
	return s.export(ctx, p, arn, func(key []byte) ([]byte, error) { return append([]byte(nil), key...), nil })
}

func (s *Service) export(ctx context.Context, p iam.Principal, arn string, wrap func(key []byte) ([]byte, error)) (*Exported, error) {
	id, err := s.authorizeARN(ctx, p, "acm:ExportCertificate", arn)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var out *Exported
	var c *store.ACMCertificate
	err = s.store.View(ctx, func(tx store.Tx) (err error) { c, err = s.load(ctx, tx, arn, id); return err })
	if err != nil {
		return nil, err
	}
	switch {
	case c.Type != TypePrivate:
		return nil, errs.New(errs.Invalid, "The certificate %s is imported; only private certificates can be exported.", arn)
	case c.ExportOption != ExportEnabled:
		return nil, errs.New(errs.Invalid, "The certificate %s was requested with export disabled.", arn)
	case c.Status == StatusFailed:
		return nil, errs.New(errs.State, "The certificate %s was not issued: %s.", arn, c.FailureReason)
	case c.Certificate == nil:
		return nil, errs.Coded(errs.State, CodeInProgress, "The certificate %s is not issued yet.", arn)
	}
	key, err := s.sealer.Open(c.PrivateKey, keyContext(c, s.region))
	if err != nil {
		return nil, errs.Wrap(err, "unseal certificate key")
	}
	enc, err := wrap(key)
	clear(key)
	if err != nil {
		return nil, errs.Wrap(err, "encrypt private key")
	}
	out = &Exported{Certificate: pki.EncodeCertificatesPEM(c.Certificate), Chain: c.Chain, PrivateKey: enc}

	if !c.Exported {
		days, err := s.daysBeforeExpiry(ctx, c.Account)
		if err != nil {
			return nil, err
		}
		err = s.mutate(ctx, arn, id, func(tx store.Tx, c *store.ACMCertificate) error {
			c.Exported = true
			schedule(c, days, now)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	s.log.Info("certificate exported", "arn", arn, "by", p.ARN)
	return out, nil
}

// mutate applies change to a fresh copy of a certificate and writes it,
// retrying when another writer got there first.
func (s *Service) mutate(ctx context.Context, arn, id string, change func(store.Tx, *store.ACMCertificate) error) error {
	for attempt := 0; ; attempt++ {
		err := s.store.Update(ctx, func(tx store.Tx) error {
			c, err := s.load(ctx, tx, arn, id)
			if err != nil {
				return err
			}
			if err := change(tx, c); err != nil {
				return err
			}
			return tx.ACMCertificates().Update(ctx, c)
		})
		if err == nil || attempt == 4 || !errorsIsStale(err) {
			if errorsIsStale(err) {
				return errs.Coded(errs.Conflict, CodeConflict, "The certificate %s was changed by another request; retry.", arn)
			}
			return err
		}
	}
}
