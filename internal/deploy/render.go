package deploy

import (
	"crypto/rand"
	"crypto/x509"
	"path"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/pki"
)

// render produces the files of a profile for a certificate bundle. pass is
// the deployment's passphrase (nil for unencrypted PEM).
func render(p Profile, b *bundle, pass []byte) ([]File, error) {
	signer, err := pki.ParsePrivateKeyPEM(b.key)
	if err != nil {
		return nil, errs.Wrap(err, "parse the certificate's private key")
	}
	leaf, err := pki.ParseCertificatesPEM(b.cert)
	if err != nil || len(leaf) == 0 {
		return nil, errs.New(errs.Internal, "the certificate does not parse")
	}
	chain, err := pki.ParseCertificatesPEM(b.chain)
	if err != nil {
		return nil, errs.New(errs.Internal, "the certificate chain does not parse")
	}
	leafPEM := pki.EncodeCertificatesPEM(leaf[0].Raw)
	var chainDER [][]byte
	for _, c := range chain {
		chainDER = append(chainDER, c.Raw)
	}
	chainPEM := pki.EncodeCertificatesPEM(chainDER...)
	fullPEM := append(append([]byte{}, leafPEM...), chainPEM...)

	abs := func(f string) string {
		if path.IsAbs(f) {
			return f
		}
		return path.Join(p.Directory, f)
	}
	var files []File
	add := func(name string, content []byte, sensitive bool) {
		if name == "" {
			return
		}
		mode := p.FileMode
		if sensitive {
			mode = p.KeyMode
		}
		files = append(files, File{Path: abs(name), Content: content, Mode: mode, Sensitive: sensitive})
	}
	add(p.CertificateFile, leafPEM, false)
	if len(chainDER) > 0 {
		add(p.ChainFile, chainPEM, false)
	}
	add(p.FullChainFile, fullPEM, false)

	p8, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, errs.Wrap(err, "encode the private key")
	}
	defer clear(p8)
	switch p.KeyFormat {
	case KeyPEM:
		add(p.KeyFile, pki.EncodePEM("PRIVATE KEY", p8), true)
	case KeyPEMEncrypted:
		enc, err := pki.EncryptPKCS8PEM(p8, pass, rand.Reader)
		if err != nil {
			return nil, errs.Wrap(err, "encrypt the private key")
		}
		add(p.KeyFile, enc, true)
	case KeyPKCS12:
		var cas []*x509.Certificate
		cas = append(cas, chain...)
		pfx, err := pkcs12.Modern.Encode(signer, leaf[0], cas, string(pass))
		if err != nil {
			return nil, errs.Wrap(err, "encode the PKCS#12 bundle")
		}
		add(p.PKCS12File, pfx, true)
	}
	if p.PassphraseFile != "" {
		add(p.PassphraseFile, append(append([]byte{}, pass...), '\n'), true)
	}
	return files, nil
}
