package certmgr

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/store"
)

// Import limits, as in ACM's model and quotas.
const (
	MaxImportCertBytes  = 32 << 10
	MaxImportKeyBytes   = 5 << 10
	MaxImportChainBytes = 2 << 20
	MaxImported         = 2500
)

// ImportInput is a certificate to import, or to re-import onto ARN.
type ImportInput struct {
	ARN         string // re-import onto this certificate; "" for a new one
	Certificate []byte // PEM, one certificate
	PrivateKey  []byte // PEM, unencrypted
	Chain       []byte // PEM, optional: issuer first
	Tags        []Tag
}

// parsed is an import that passed every check.
type parsed struct {
	cert   *x509.Certificate
	keyDER []byte // PKCS#8
	chain  []byte
}

func (s *Service) checkImport(in *ImportInput) (*parsed, error) {
	switch {
	case len(in.Certificate) == 0:
		return nil, required("certificate")
	case len(in.PrivateKey) == 0:
		return nil, required("privateKey")
	case len(in.Certificate) > MaxImportCertBytes:
		return nil, validation("certificate", "(certificate)", fmt.Sprintf("Member must have length less than or equal to %d", MaxImportCertBytes))
	case len(in.PrivateKey) > MaxImportKeyBytes:
		return nil, validation("privateKey", "***", fmt.Sprintf("Member must have length less than or equal to %d", MaxImportKeyBytes))
	case len(in.Chain) > MaxImportChainBytes:
		return nil, validation("certificateChain", "(chain)", fmt.Sprintf("Member must have length less than or equal to %d", MaxImportChainBytes))
	}
	certs, err := pki.ParseCertificatesPEM(in.Certificate)
	if err != nil {
		return nil, errs.New(errs.Invalid, "Could not parse the certificate: %v.", err)
	}
	if len(certs) != 1 {
		return nil, errs.New(errs.Invalid, "The certificate field contains %d certificates; it must contain exactly one (put the issuers in the certificate chain).", len(certs))
	}
	cert := certs[0]
	if cert.IsCA && cert.BasicConstraintsValid && !pki.IsSelfSigned(cert) {
		// ACM imports end-entity certificates; a CA certificate here is
		// almost always a chain pasted into the wrong field.
		return nil, errs.New(errs.Invalid, "The certificate is a CA certificate; import the end-entity certificate and pass its issuers as the chain.")
	}
	if _, err := keyAlgorithmName(cert.PublicKey); err != nil {
		return nil, errs.New(errs.Invalid, "The certificate's key is not supported: %v.", err)
	}
	if len(cert.RawIssuer) == 0 || isEmptySequence(cert.RawIssuer) {
		return nil, errs.New(errs.Invalid, "The certificate's issuer is empty.")
	}
	now := s.clock.Now()
	if now.After(cert.NotAfter) {
		return nil, errs.New(errs.Invalid, "The certificate expired at %s.", cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if now.Before(cert.NotBefore) {
		return nil, errs.New(errs.Invalid, "The certificate is not valid before %s.", cert.NotBefore.UTC().Format("2006-01-02T15:04:05Z"))
	}
	key, err := pki.ParsePrivateKeyPEM(in.PrivateKey)
	switch {
	case errors.Is(err, pki.ErrEncryptedKey):
		return nil, errs.New(errs.Invalid, "The private key is encrypted; import it unencrypted (for example: openssl pkey -in key.pem -out plain.pem).")
	case errors.Is(err, pki.ErrUnsupportedKey):
		return nil, errs.New(errs.Invalid, "The private key is not supported: only RSA and ECDSA keys can be imported.")
	case err != nil:
		return nil, errs.New(errs.Invalid, "Could not parse the private key: it must be one unencrypted PEM key (PKCS#8, PKCS#1 or SEC 1).")
	}
	if !pki.PublicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, errs.New(errs.Invalid, "The private key does not match the public key in the certificate.")
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, errs.New(errs.Invalid, "The private key is not supported.")
	}
	var chainPEM []byte
	if len(bytes.TrimSpace(in.Chain)) > 0 {
		chain, err := pki.ParseCertificatesPEM(in.Chain)
		if err != nil {
			return nil, errs.New(errs.Invalid, "Could not parse the certificate chain: %v.", err)
		}
		if err := verifyImportChain(cert, chain, now); err != nil {
			return nil, errs.New(errs.Invalid, "Could not validate the certificate with the certificate chain: %v.", err)
		}
		raws := make([][]byte, len(chain))
		for i, c := range chain {
			raws[i] = c.Raw
		}
		chainPEM = pki.EncodeCertificatesPEM(raws...)
	}
	return &parsed{cert: cert, keyDER: keyDER, chain: chainPEM}, nil
}

// isEmptySequence reports whether a DER name is the empty SEQUENCE.
func isEmptySequence(raw []byte) bool { return len(raw) == 2 && raw[0] == 0x30 && raw[1] == 0 }

// verifyImportChain checks that each chain certificate issued the one
// before it; when the chain ends in a self-signed root, it also runs full
// path validation.
func verifyImportChain(cert *x509.Certificate, chain []*x509.Certificate, now time.Time) error {
	prev := cert
	for i, c := range chain {
		if !bytes.Equal(prev.RawIssuer, c.RawSubject) || prev.CheckSignatureFrom(c) != nil {
			return fmt.Errorf("chain certificate %d did not issue the certificate before it (order the chain from issuer to root)", i+1)
		}
		prev = c
	}
	if pki.IsSelfSigned(chain[len(chain)-1]) {
		return pki.VerifyChain(cert, chain, now)
	}
	return nil
}

// Import stores a certificate with its private key, or replaces the
// certificate and key of an imported certificate (ARN kept). Imported
// certificates are never renewed by Sigil.
func (s *Service) Import(ctx context.Context, p iam.Principal, in ImportInput) (string, error) {
	reimport := in.ARN != ""
	var id string
	if reimport {
		var err error
		if id, err = s.authorizeARN(ctx, p, "acm:ImportCertificate", in.ARN); err != nil {
			return "", err
		}
		if len(in.Tags) > 0 {
			return "", invalidParameter("Tags cannot be set when re-importing a certificate; use AddTagsToCertificate.")
		}
	} else if err := s.authz.Authorize(ctx, p, iam.Request{Action: "acm:ImportCertificate", Resource: "*"}); err != nil {
		return "", err
	}
	if err := validateTags(in.Tags); err != nil {
		return "", err
	}
	pr, err := s.checkImport(&in)
	if err != nil {
		return "", err
	}
	defer clear(pr.keyDER)
	now := s.clock.Now()
	days, err := s.daysBeforeExpiry(ctx, p.Account)
	if err != nil {
		return "", err
	}
	fill := func(c *store.ACMCertificate) error {
		describeX509(c, pr.cert)
		sealed, err := s.sealer.Seal(pr.keyDER, keyContext(c, s.region))
		if err != nil {
			return errs.Wrap(err, "seal private key")
		}
		c.Certificate, c.Chain, c.PrivateKey = pr.cert.Raw, pr.chain, sealed
		c.Status, c.ImportedAt, c.FailureReason = StatusIssued, now, ""
		schedule(c, days, now)
		return nil
	}

	if reimport {
		err = s.mutate(ctx, in.ARN, id, func(tx store.Tx, c *store.ACMCertificate) error {
			if c.Type != TypeImported {
				return errs.New(errs.Invalid, "The certificate %s was issued by a private CA; only imported certificates can be re-imported.", in.ARN)
			}
			return fill(c)
		})
		if err != nil {
			return "", err
		}
		s.log.Info("certificate re-imported", "arn", in.ARN, "serial", colonHex(pr.cert.SerialNumber.Bytes()))
		return in.ARN, nil
	}

	id = uuid.NewString()
	c := &store.ACMCertificate{
		ID: id, ARN: certARN(s.region, p.Account, id), Account: p.Account, Type: TypeImported,
		CreatedAt: now, ExportOption: ExportDisabled,
	}
	if err := fill(c); err != nil {
		return "", err
	}
	err = s.store.Update(ctx, func(tx store.Tx) error {
		n, err := tx.ACMCertificates().Count(ctx, p.Account, TypeImported)
		if err != nil {
			return err
		}
		if n >= MaxImported {
			return errs.New(errs.Limit, "The account has %d imported certificates, the most it may have.", n)
		}
		if err := tx.ACMCertificates().Insert(ctx, c); err != nil {
			return err
		}
		return tx.Tags().Replace(ctx, c.ARN, storeTags(in.Tags))
	})
	if err != nil {
		return "", err
	}
	s.log.Info("certificate imported", "arn", c.ARN, "serial", c.Serial)
	return c.ARN, nil
}
