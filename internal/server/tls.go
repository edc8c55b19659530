package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/sigilhq/sigil/internal/pki"
	"github.com/sigilhq/sigil/internal/seal"
)

// The API's own TLS certificate. When none is configured, Sigil keeps a
// small local CA in DATA_DIR/tls (its key sealed with the master key), issues
// a server certificate for localhost, the loopback addresses, the host name
// and any configured names, and writes DATA_DIR/ca-bundle.pem for clients
// (AWS_CA_BUNDLE). The server certificate is re-issued when it nears expiry
// or when the set of names changes.
const (
	tlsCALifetime     = 10 * 365 * 24 * time.Hour
	tlsServerLifetime = 397 * 24 * time.Hour
	tlsRenewBefore    = 30 * 24 * time.Hour
)

func (s *Server) serverTLS(sealer seal.Sealer) (*tls.Config, string, error) {
	if s.cfg.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("load TLS certificate: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, "", nil
	}
	dir := filepath.Join(s.cfg.DataDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	now := s.clock.Now()
	caCert, caKey, err := loadOrCreateTLSCA(dir, sealer, now)
	if err != nil {
		return nil, "", fmt.Errorf("TLS CA: %w", err)
	}
	names := s.tlsNames()
	leaf, err := loadOrIssueServerCert(dir, sealer, caCert, caKey, names, now)
	if err != nil {
		return nil, "", fmt.Errorf("TLS server certificate: %w", err)
	}
	bundle := filepath.Join(s.cfg.DataDir, "ca-bundle.pem")
	if err := os.WriteFile(bundle, pki.EncodeCertificatesPEM(caCert.Raw), 0o644); err != nil {
		return nil, "", err
	}
	return &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12}, bundle, nil
}

func (s *Server) tlsNames() []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
	}
	for _, addr := range []string{s.cfg.Listen, s.cfg.AgentListen} {
		if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
			if ip, err := netip.ParseAddr(host); err != nil || !ip.IsUnspecified() {
				names = append(names, host)
			}
		}
	}
	names = append(names, s.cfg.TLS.Names...)
	slices.Sort(names)
	return slices.Compact(names)
}

func loadOrCreateTLSCA(dir string, sealer seal.Sealer, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key.sealed")
	if cert, key, err := loadPair(certPath, keyPath, sealer); err == nil {
		return cert, key, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	cert, key, err := pki.NewLocalCA("Sigil Local API CA", now, tlsCALifetime)
	if err != nil {
		return nil, nil, err
	}
	if err := savePair(certPath, keyPath, cert.Raw, key, sealer); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func loadOrIssueServerCert(dir string, sealer seal.Sealer, ca *x509.Certificate, caKey *ecdsa.PrivateKey, names []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key.sealed")
	if cert, key, err := loadPair(certPath, keyPath, sealer); err == nil &&
		now.Add(tlsRenewBefore).Before(cert.NotAfter) && slices.Equal(certNames(cert), names) && cert.CheckSignatureFrom(ca) == nil {
		return tls.Certificate{Certificate: [][]byte{cert.Raw, ca.Raw}, PrivateKey: key, Leaf: cert}, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, _ := pki.RandomSerial()
	ski, err := pki.PublicKeyID(&key.PublicKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	tpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: names[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(tlsServerLifetime),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, SubjectKeyId: ski,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else {
			tpl.DNSNames = append(tpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := savePair(certPath, keyPath, der, key, sealer); err != nil {
		return tls.Certificate{}, err
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der, ca.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// certNames lists a certificate's DNS names and IPs, sorted, in the form
// tlsNames produces.
func certNames(c *x509.Certificate) []string {
	var out []string
	out = append(out, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	slices.Sort(out)
	return out
}

func loadPair(certPath, keyPath string, sealer seal.Sealer) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return nil, nil, fmt.Errorf("%s is not PEM", certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, err
	}
	der, err := sealer.Open(sealed, []byte("sigil/tls/"+filepath.Base(keyPath)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !bytes.Equal(mustSPKI(&key.PublicKey), cert.RawSubjectPublicKeyInfo) {
		return nil, nil, fmt.Errorf("%s does not hold the key of %s", keyPath, certPath)
	}
	return cert, key, nil
}

func mustSPKI(pub any) []byte {
	b, _ := x509.MarshalPKIXPublicKey(pub)
	return b
}

func savePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey, sealer seal.Sealer) error {
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	defer clear(pk)
	sealed, err := sealer.Seal(pk, []byte("sigil/tls/"+filepath.Base(keyPath)))
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, sealed, 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pki.EncodeCertificatesPEM(der), 0o644)
}
