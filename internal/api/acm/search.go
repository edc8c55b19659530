package acm

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/certmgr"
	"github.com/sigilhq/sigil/internal/errs"
)

// The SearchCertificates filter statement, as it arrives: unions are JSON
// objects with exactly one member set.
type filterStatement struct {
	And    []*filterStatement `json:"And"`
	Or     []*filterStatement `json:"Or"`
	Not    *filterStatement   `json:"Not"`
	Filter *certificateFilter `json:"Filter"`
}

type certificateFilter struct {
	CertificateArn               *string            `json:"CertificateArn"`
	X509AttributeFilter          *x509AttrFilter    `json:"X509AttributeFilter"`
	AcmCertificateMetadataFilter *acmMetadataFilter `json:"AcmCertificateMetadataFilter"`
}

type comparison struct {
	ComparisonOperator string `json:"ComparisonOperator"`
	Value              string `json:"Value"`
}

type timestampRange struct {
	Start *awsjson.Time `json:"Start"`
	End   *awsjson.Time `json:"End"`
}

type x509AttrFilter struct {
	Subject *struct {
		CommonName *comparison `json:"CommonName"`
	} `json:"Subject"`
	SubjectAlternativeName *struct {
		DnsName *comparison `json:"DnsName"`
	} `json:"SubjectAlternativeName"`
	ExtendedKeyUsage *string         `json:"ExtendedKeyUsage"`
	KeyUsage         *string         `json:"KeyUsage"`
	KeyAlgorithm     *string         `json:"KeyAlgorithm"`
	SerialNumber     *string         `json:"SerialNumber"`
	NotAfter         *timestampRange `json:"NotAfter"`
	NotBefore        *timestampRange `json:"NotBefore"`
}

type acmMetadataFilter struct {
	Status                   *string `json:"Status"`
	RenewalStatus            *string `json:"RenewalStatus"`
	Type                     *string `json:"Type"`
	InUse                    *bool   `json:"InUse"`
	Exported                 *bool   `json:"Exported"`
	ExportOption             *string `json:"ExportOption"`
	ManagedBy                *string `json:"ManagedBy"`
	ValidationMethod         *string `json:"ValidationMethod"`
	CertificateKeyPairOrigin *string `json:"CertificateKeyPairOrigin"`
	AcmeAccountId            *string `json:"AcmeAccountId"`
	AcmeEndpointArn          *string `json:"AcmeEndpointArn"`
}

func unionError(what string) error {
	return errs.New(errs.Invalid, "%s must set exactly one member.", what)
}

func (f *filterStatement) toDomain() (*certmgr.Filter, error) {
	if f == nil {
		return nil, unionError("A filter statement")
	}
	n := 0
	for _, set := range []bool{f.And != nil, f.Or != nil, f.Not != nil, f.Filter != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, unionError("A filter statement")
	}
	list := func(in []*filterStatement) ([]*certmgr.Filter, error) {
		out := make([]*certmgr.Filter, len(in))
		for i, g := range in {
			d, err := g.toDomain()
			if err != nil {
				return nil, err
			}
			out[i] = d
		}
		return out, nil
	}
	switch {
	case f.And != nil:
		l, err := list(f.And)
		return &certmgr.Filter{And: l}, err
	case f.Or != nil:
		l, err := list(f.Or)
		return &certmgr.Filter{Or: l}, err
	case f.Not != nil:
		d, err := f.Not.toDomain()
		return &certmgr.Filter{Not: d}, err
	}
	m, err := f.Filter.toMatch()
	return &certmgr.Filter{Match: m}, err
}

func (c *certificateFilter) toMatch() (*certmgr.Match, error) {
	var ms []*certmgr.Match
	str := func(field string, v *string) {
		if v != nil {
			ms = append(ms, &certmgr.Match{Field: field, Value: *v})
		}
	}
	boolean := func(field string, v *bool) {
		if v != nil {
			ms = append(ms, &certmgr.Match{Field: field, Bool: *v})
		}
	}
	cmp := func(field string, v *comparison) {
		if v != nil {
			ms = append(ms, &certmgr.Match{Field: field, Op: v.ComparisonOperator, Value: v.Value})
		}
	}
	rng := func(field string, v *timestampRange) {
		if v != nil {
			m := &certmgr.Match{Field: field}
			if v.Start != nil {
				m.Start = v.Start.Time
			}
			if v.End != nil {
				m.End = v.End.Time
			}
			ms = append(ms, m)
		}
	}
	str("CertificateArn", c.CertificateArn)
	if x := c.X509AttributeFilter; x != nil {
		if x.Subject != nil {
			cmp("CommonName", x.Subject.CommonName)
		}
		if x.SubjectAlternativeName != nil {
			cmp("DnsName", x.SubjectAlternativeName.DnsName)
		}
		str("ExtendedKeyUsage", x.ExtendedKeyUsage)
		str("KeyUsage", x.KeyUsage)
		str("KeyAlgorithm", x.KeyAlgorithm)
		str("SerialNumber", x.SerialNumber)
		rng("NotAfter", x.NotAfter)
		rng("NotBefore", x.NotBefore)
	}
	if a := c.AcmCertificateMetadataFilter; a != nil {
		str("Status", a.Status)
		str("RenewalStatus", a.RenewalStatus)
		str("Type", a.Type)
		boolean("InUse", a.InUse)
		boolean("Exported", a.Exported)
		str("ExportOption", a.ExportOption)
		str("ManagedBy", a.ManagedBy)
		str("ValidationMethod", a.ValidationMethod)
		str("CertificateKeyPairOrigin", a.CertificateKeyPairOrigin)
		str("AcmeAccountId", a.AcmeAccountId)
		str("AcmeEndpointArn", a.AcmeEndpointArn)
	}
	if len(ms) != 1 {
		return nil, unionError("A certificate filter")
	}
	return ms[0], nil
}

type searchInput struct {
	FilterStatement *filterStatement `json:"FilterStatement"`
	MaxResults      int              `json:"MaxResults"`
	NextToken       string           `json:"NextToken"`
	SortBy          string           `json:"SortBy"`
	SortOrder       string           `json:"SortOrder"`
}

type distinguishedName struct {
	CommonName                 string            `json:"CommonName,omitempty"`
	Country                    string            `json:"Country,omitempty"`
	CustomAttributes           []customAttribute `json:"CustomAttributes,omitempty"`
	DistinguishedNameQualifier string            `json:"DistinguishedNameQualifier,omitempty"`
	DomainComponents           []string          `json:"DomainComponents,omitempty"`
	GenerationQualifier        string            `json:"GenerationQualifier,omitempty"`
	GivenName                  string            `json:"GivenName,omitempty"`
	Initials                   string            `json:"Initials,omitempty"`
	Locality                   string            `json:"Locality,omitempty"`
	Organization               string            `json:"Organization,omitempty"`
	OrganizationalUnit         string            `json:"OrganizationalUnit,omitempty"`
	Pseudonym                  string            `json:"Pseudonym,omitempty"`
	SerialNumber               string            `json:"SerialNumber,omitempty"`
	State                      string            `json:"State,omitempty"`
	Surname                    string            `json:"Surname,omitempty"`
	Title                      string            `json:"Title,omitempty"`
}

type customAttribute struct {
	ObjectIdentifier string `json:"ObjectIdentifier"`
	Value            string `json:"Value"`
}

type generalName struct {
	DnsName                   string `json:"DnsName,omitempty"`
	IpAddress                 string `json:"IpAddress,omitempty"`
	UniformResourceIdentifier string `json:"UniformResourceIdentifier,omitempty"`
}

type x509Attributes struct {
	ExtendedKeyUsages       []string           `json:"ExtendedKeyUsages,omitempty"`
	Issuer                  *distinguishedName `json:"Issuer,omitempty"`
	KeyAlgorithm            string             `json:"KeyAlgorithm,omitempty"`
	KeyUsages               []string           `json:"KeyUsages,omitempty"`
	NotAfter                *awsjson.Time      `json:"NotAfter,omitempty"`
	NotBefore               *awsjson.Time      `json:"NotBefore,omitempty"`
	SerialNumber            string             `json:"SerialNumber,omitempty"`
	Subject                 *distinguishedName `json:"Subject,omitempty"`
	SubjectAlternativeNames []generalName      `json:"SubjectAlternativeNames,omitempty"`
}

type acmCertificateMetadata struct {
	CertificateKeyPairOrigin string        `json:"CertificateKeyPairOrigin,omitempty"`
	CreatedAt                *awsjson.Time `json:"CreatedAt,omitempty"`
	ExportOption             string        `json:"ExportOption,omitempty"`
	Exported                 bool          `json:"Exported"`
	ImportedAt               *awsjson.Time `json:"ImportedAt,omitempty"`
	InUse                    bool          `json:"InUse"`
	IssuedAt                 *awsjson.Time `json:"IssuedAt,omitempty"`
	RenewalEligibility       string        `json:"RenewalEligibility,omitempty"`
	RenewalStatus            string        `json:"RenewalStatus,omitempty"`
	RevokedAt                *awsjson.Time `json:"RevokedAt,omitempty"`
	Status                   string        `json:"Status,omitempty"`
	Type                     string        `json:"Type,omitempty"`
}

type certificateMetadata struct {
	AcmCertificateMetadata acmCertificateMetadata `json:"AcmCertificateMetadata"`
}

type searchResult struct {
	CertificateArn      string              `json:"CertificateArn"`
	CertificateMetadata certificateMetadata `json:"CertificateMetadata"`
	X509Attributes      *x509Attributes     `json:"X509Attributes,omitempty"`
}

type searchOutput struct {
	NextToken string         `json:"NextToken,omitempty"`
	Results   []searchResult `json:"Results"`
}

var (
	oidDNQualifier = asn1.ObjectIdentifier{2, 5, 4, 46}
	oidGenQual     = asn1.ObjectIdentifier{2, 5, 4, 44}
	oidGivenName   = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidInitials    = asn1.ObjectIdentifier{2, 5, 4, 43}
	oidPseudonym   = asn1.ObjectIdentifier{2, 5, 4, 65}
	oidSurname     = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidTitle       = asn1.ObjectIdentifier{2, 5, 4, 12}
	oidDC          = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	// Attributes pkix.Name already reads into its own fields.
	oidKnown = []asn1.ObjectIdentifier{{2, 5, 4, 3}, {2, 5, 4, 6}, {2, 5, 4, 7}, {2, 5, 4, 8}, {2, 5, 4, 10},
		{2, 5, 4, 11}, {2, 5, 4, 5}, {2, 5, 4, 9}, {2, 5, 4, 17}}
)

func toDN(n pkix.Name) *distinguishedName {
	first := func(v []string) string {
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	d := &distinguishedName{
		CommonName: n.CommonName, Country: first(n.Country), Locality: first(n.Locality),
		Organization: first(n.Organization), OrganizationalUnit: first(n.OrganizationalUnit),
		SerialNumber: n.SerialNumber, State: first(n.Province),
	}
next:
	for _, a := range n.Names {
		v, _ := a.Value.(string)
		switch {
		case a.Type.Equal(oidDNQualifier):
			d.DistinguishedNameQualifier = v
		case a.Type.Equal(oidGenQual):
			d.GenerationQualifier = v
		case a.Type.Equal(oidGivenName):
			d.GivenName = v
		case a.Type.Equal(oidInitials):
			d.Initials = v
		case a.Type.Equal(oidPseudonym):
			d.Pseudonym = v
		case a.Type.Equal(oidSurname):
			d.Surname = v
		case a.Type.Equal(oidTitle):
			d.Title = v
		case a.Type.Equal(oidDC):
			d.DomainComponents = append(d.DomainComponents, v)
		default:
			for _, k := range oidKnown {
				if a.Type.Equal(k) {
					continue next
				}
			}
			d.CustomAttributes = append(d.CustomAttributes, customAttribute{ObjectIdentifier: a.Type.String(), Value: v})
		}
	}
	return d
}

func toX509Attributes(c *certmgr.Certificate, x *x509.Certificate) *x509Attributes {
	if x == nil {
		return nil
	}
	a := &x509Attributes{
		Issuer: toDN(x.Issuer), Subject: toDN(x.Subject), KeyAlgorithm: c.KeyAlgorithm, KeyUsages: c.KeyUsages,
		NotAfter: awsjson.TimePtr(x.NotAfter), NotBefore: awsjson.TimePtr(x.NotBefore),
		SerialNumber: strings.ToUpper(c.Serial),
	}
	for _, e := range c.ExtKeyUsages {
		a.ExtendedKeyUsages = append(a.ExtendedKeyUsages, e.Name)
	}
	for _, n := range x.DNSNames {
		a.SubjectAlternativeNames = append(a.SubjectAlternativeNames, generalName{DnsName: n})
	}
	for _, ip := range x.IPAddresses {
		a.SubjectAlternativeNames = append(a.SubjectAlternativeNames, generalName{IpAddress: ip.String()})
	}
	for _, u := range x.URIs {
		a.SubjectAlternativeNames = append(a.SubjectAlternativeNames, generalName{UniformResourceIdentifier: u.String()})
	}
	return a
}

func (h handlers) search(ctx context.Context, c *awsjson.Call, in *searchInput) (*searchOutput, error) {
	si := certmgr.SearchInput{MaxResults: in.MaxResults, NextToken: in.NextToken, SortBy: in.SortBy, SortOrder: in.SortOrder}
	if in.FilterStatement != nil {
		f, err := in.FilterStatement.toDomain()
		if err != nil {
			return nil, err
		}
		si.Filter = f
	}
	page, err := h.m.Search(ctx, c.Principal, si)
	if err != nil {
		return nil, err
	}
	out := &searchOutput{NextToken: page.NextToken, Results: []searchResult{}}
	for i, cert := range page.Certificates {
		out.Results = append(out.Results, searchResult{
			CertificateArn: cert.ARN,
			CertificateMetadata: certificateMetadata{AcmCertificateMetadata: acmCertificateMetadata{
				CertificateKeyPairOrigin: cert.KeyPairOrigin, CreatedAt: awsjson.TimePtr(cert.CreatedAt),
				ExportOption: cert.ExportOption, Exported: cert.Exported, ImportedAt: awsjson.TimePtr(cert.ImportedAt),
				InUse: len(cert.InUseBy) > 0, IssuedAt: awsjson.TimePtr(cert.IssuedAt),
				RenewalEligibility: cert.RenewalEligibility, RevokedAt: awsjson.TimePtr(cert.RevokedAt),
				Status: cert.Status, Type: cert.Type, RenewalStatus: renewalStatus(cert),
			}},
			X509Attributes: toX509Attributes(cert, page.X509[i]),
		})
	}
	return out, nil
}

func renewalStatus(c *certmgr.Certificate) string {
	if c.Renewal == nil {
		return ""
	}
	return c.Renewal.Status
}
