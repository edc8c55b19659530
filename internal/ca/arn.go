package ca

import (
	"fmt"
	"math/big"
	"regexp"
	"strings"

	"github.com/sigilhq/sigil/internal/pki"
)

var (
	caARNRE   = regexp.MustCompile(`^arn:aws:acm-pca:([a-z0-9-]+):([0-9]{12}):certificate-authority/([0-9a-f-]{36})$`)
	certARNRE = regexp.MustCompile(`^(arn:aws:acm-pca:[a-z0-9-]+:[0-9]{12}:certificate-authority/[0-9a-f-]{36})/certificate/([0-9a-fA-F]{1,40})$`)
)

func (s *Service) caARN(account, id string) string {
	return fmt.Sprintf("arn:aws:acm-pca:%s:%s:certificate-authority/%s", s.opts.Region, account, id)
}

func certARN(caARN string, serial *big.Int) string {
	return caARN + "/certificate/" + pki.SerialHex(serial)
}

// parseCAARN checks a CA ARN and returns its account and ID.
func (s *Service) parseCAARN(arn string) (account, id string, err error) {
	if len(arn) < 5 || len(arn) > 200 {
		return "", "", invalidArn("The ARN %q is not between 5 and 200 characters long.", arn)
	}
	m := caARNRE.FindStringSubmatch(arn)
	if m == nil {
		return "", "", invalidArn("The ARN %q is not a valid certificate authority ARN.", arn)
	}
	if m[1] != s.opts.Region {
		return "", "", invalidArn("The ARN %q names region %s, but this Sigil serves %s.", arn, m[1], s.opts.Region)
	}
	return m[2], m[3], nil
}

// parseCertARN checks a certificate ARN and returns the CA ARN and serial.
func parseCertARN(arn string) (caARN string, serial *big.Int, err error) {
	m := certARNRE.FindStringSubmatch(arn)
	if m == nil {
		return "", nil, invalidArn("The ARN %q is not a valid certificate ARN.", arn)
	}
	serial, err = pki.ParseSerialHex(strings.ToLower(m[2]))
	if err != nil {
		return "", nil, invalidArn("The ARN %q does not end in a valid serial number.", arn)
	}
	return m[1], serial, nil
}
