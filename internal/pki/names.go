package pki

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Attribute type OIDs for distinguished names (RFC 5280 appendix A, X.520).
var (
	oidCountry             = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidOrganization        = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidOrganizationalUnit  = asn1.ObjectIdentifier{2, 5, 4, 11}
	oidDNQualifier         = asn1.ObjectIdentifier{2, 5, 4, 46}
	oidState               = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidCommonName          = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSerialNumber        = asn1.ObjectIdentifier{2, 5, 4, 5}
	oidLocality            = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidTitle               = asn1.ObjectIdentifier{2, 5, 4, 12}
	oidSurname             = asn1.ObjectIdentifier{2, 5, 4, 4}
	oidGivenName           = asn1.ObjectIdentifier{2, 5, 4, 42}
	oidInitials            = asn1.ObjectIdentifier{2, 5, 4, 43}
	oidPseudonym           = asn1.ObjectIdentifier{2, 5, 4, 65}
	oidGenerationQualifier = asn1.ObjectIdentifier{2, 5, 4, 44}
)

// Subject is a distinguished name given attribute by attribute (the shape of
// AWS's ASN1Subject). CustomAttributes, when present, replace every standard
// attribute.
type Subject struct {
	Country                    string      `json:"Country,omitempty"`
	Organization               string      `json:"Organization,omitempty"`
	OrganizationalUnit         string      `json:"OrganizationalUnit,omitempty"`
	DistinguishedNameQualifier string      `json:"DistinguishedNameQualifier,omitempty"`
	State                      string      `json:"State,omitempty"`
	CommonName                 string      `json:"CommonName,omitempty"`
	SerialNumber               string      `json:"SerialNumber,omitempty"`
	Locality                   string      `json:"Locality,omitempty"`
	Title                      string      `json:"Title,omitempty"`
	Surname                    string      `json:"Surname,omitempty"`
	GivenName                  string      `json:"GivenName,omitempty"`
	Initials                   string      `json:"Initials,omitempty"`
	Pseudonym                  string      `json:"Pseudonym,omitempty"`
	GenerationQualifier        string      `json:"GenerationQualifier,omitempty"`
	CustomAttributes           []Attribute `json:"CustomAttributes,omitempty"`
}

// Attribute is one custom distinguished-name attribute.
type Attribute struct {
	ObjectIdentifier string `json:"ObjectIdentifier"`
	Value            string `json:"Value"`
}

type subjectField struct {
	name      string
	oid       asn1.ObjectIdentifier
	max       int
	printable bool // encoded as PrintableString, as RFC 5280 requires
	get       func(*Subject) string
}

// subjectFields is the encoding order of the standard attributes, most
// significant first, as in common practice (C, ST, L, O, OU, CN ...).
var subjectFields = []subjectField{
	{"Country", oidCountry, 2, true, func(s *Subject) string { return s.Country }},
	{"State", oidState, 128, false, func(s *Subject) string { return s.State }},
	{"Locality", oidLocality, 128, false, func(s *Subject) string { return s.Locality }},
	{"Organization", oidOrganization, 64, false, func(s *Subject) string { return s.Organization }},
	{"OrganizationalUnit", oidOrganizationalUnit, 64, false, func(s *Subject) string { return s.OrganizationalUnit }},
	{"DistinguishedNameQualifier", oidDNQualifier, 64, true, func(s *Subject) string { return s.DistinguishedNameQualifier }},
	{"SerialNumber", oidSerialNumber, 64, true, func(s *Subject) string { return s.SerialNumber }},
	{"Title", oidTitle, 64, false, func(s *Subject) string { return s.Title }},
	{"Surname", oidSurname, 40, false, func(s *Subject) string { return s.Surname }},
	{"GivenName", oidGivenName, 16, false, func(s *Subject) string { return s.GivenName }},
	{"Initials", oidInitials, 5, false, func(s *Subject) string { return s.Initials }},
	{"Pseudonym", oidPseudonym, 128, false, func(s *Subject) string { return s.Pseudonym }},
	{"GenerationQualifier", oidGenerationQualifier, 3, false, func(s *Subject) string { return s.GenerationQualifier }},
	{"CommonName", oidCommonName, 64, false, func(s *Subject) string { return s.CommonName }},
}

var countryRE = regexp.MustCompile(`^[A-Za-z]{2}$`)

// IsEmpty reports whether no attribute is set.
func (s *Subject) IsEmpty() bool {
	if s == nil {
		return true
	}
	if len(s.CustomAttributes) > 0 {
		return false
	}
	for _, f := range subjectFields {
		if f.get(s) != "" {
			return false
		}
	}
	return true
}

// Validate checks attribute lengths and character sets.
func (s *Subject) Validate() error {
	if s == nil {
		return nil
	}
	standard := false
	for _, f := range subjectFields {
		v := f.get(s)
		if v == "" {
			continue
		}
		standard = true
		if n := utf8.RuneCountInString(v); n > f.max {
			return fmt.Errorf("subject %s is %d characters long; the limit is %d", f.name, n, f.max)
		}
		if !utf8.ValidString(v) {
			return fmt.Errorf("subject %s is not valid UTF-8", f.name)
		}
		if f.printable && !isPrintableString(v) {
			return fmt.Errorf("subject %s may contain only letters, digits, space and '()+,-./:=?", f.name)
		}
	}
	if s.Country != "" && !countryRE.MatchString(s.Country) {
		return fmt.Errorf("subject Country must be a two-letter code, got %q", s.Country)
	}
	if len(s.CustomAttributes) > 0 {
		if standard {
			return errors.New("subject CustomAttributes cannot be combined with standard attributes")
		}
		if len(s.CustomAttributes) > 150 {
			return errors.New("subject has more than 150 CustomAttributes")
		}
		for _, a := range s.CustomAttributes {
			if _, err := ParseOID(a.ObjectIdentifier); err != nil {
				return fmt.Errorf("subject custom attribute: %w", err)
			}
			if n := utf8.RuneCountInString(a.Value); n < 1 || n > 256 {
				return fmt.Errorf("subject custom attribute %s value must be 1 to 256 characters", a.ObjectIdentifier)
			}
		}
	}
	return nil
}

// RDNSequence encodes the subject as an X.501 name, one attribute per RDN.
func (s *Subject) RDNSequence() (pkix.RDNSequence, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var seq pkix.RDNSequence
	if len(s.CustomAttributes) > 0 {
		for _, a := range s.CustomAttributes {
			oid, _ := ParseOID(a.ObjectIdentifier)
			seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: oid, Value: utf8Value(a.Value)}})
		}
		return seq, nil
	}
	for _, f := range subjectFields {
		v := f.get(s)
		if v == "" {
			continue
		}
		var val any = utf8Value(v)
		if f.printable {
			val = asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte(v)}
		}
		if f.name == "Country" {
			val = asn1.RawValue{Tag: asn1.TagPrintableString, Bytes: []byte(strings.ToUpper(v))}
		}
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{Type: f.oid, Value: val}})
	}
	return seq, nil
}

// DER returns the DER encoding of the subject's name.
func (s *Subject) DER() ([]byte, error) {
	seq, err := s.RDNSequence()
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(seq)
}

func utf8Value(v string) asn1.RawValue {
	return asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(v)}
}

func isPrintableString(s string) bool {
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		case strings.ContainsRune(" '()+,-./:=?", r):
		default:
			return false
		}
	}
	return true
}

// ParseOID parses a dotted-decimal object identifier.
func ParseOID(s string) (asn1.ObjectIdentifier, error) {
	if len(s) == 0 || len(s) > 64 {
		return nil, fmt.Errorf("object identifier %q is empty or too long", s)
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("object identifier %q needs at least two arcs", s)
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, p := range parts {
		if p == "" || len(p) > 9 || (len(p) > 1 && p[0] == '0') {
			return nil, fmt.Errorf("object identifier %q is malformed", s)
		}
		n := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("object identifier %q is malformed", s)
			}
			n = n*10 + int(c-'0')
		}
		oid[i] = n
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] > 39) {
		return nil, fmt.Errorf("object identifier %q is out of range", s)
	}
	return oid, nil
}

// GeneralName is one name of a subject or issuer alternative name (RFC 5280
// 4.2.1.6). Exactly one field must be set.
type GeneralName struct {
	OtherName                 *OtherName    `json:"OtherName,omitempty"`
	Rfc822Name                string        `json:"Rfc822Name,omitempty"`
	DnsName                   string        `json:"DnsName,omitempty"`
	DirectoryName             *Subject      `json:"DirectoryName,omitempty"`
	EdiPartyName              *EdiPartyName `json:"EdiPartyName,omitempty"`
	UniformResourceIdentifier string        `json:"UniformResourceIdentifier,omitempty"`
	IpAddress                 string        `json:"IpAddress,omitempty"`
	RegisteredId              string        `json:"RegisteredId,omitempty"`
}

// OtherName is a name of a type identified by an OID; Value is encoded as a
// UTF8String.
type OtherName struct {
	TypeId string `json:"TypeId"`
	Value  string `json:"Value"`
}

// EdiPartyName is an EDI party name.
type EdiPartyName struct {
	PartyName    string `json:"PartyName"`
	NameAssigner string `json:"NameAssigner,omitempty"`
}

var dnsLabelRE = regexp.MustCompile(`^(\*|[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$`)

// ValidDNSName reports whether name is a syntactically valid DNS name,
// allowing one leading wildcard label.
func ValidDNSName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(name, "."), ".")
	for i, l := range labels {
		if !dnsLabelRE.MatchString(l) || (l == "*" && i != 0) {
			return false
		}
	}
	return true
}

func isIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > 0x7f {
			return false
		}
	}
	return true
}

// encode returns the DER of the GeneralName CHOICE.
func (g *GeneralName) encode() (asn1.RawValue, error) {
	set := 0
	for _, b := range []bool{g.OtherName != nil, g.Rfc822Name != "", g.DnsName != "", g.DirectoryName != nil,
		g.EdiPartyName != nil, g.UniformResourceIdentifier != "", g.IpAddress != "", g.RegisteredId != ""} {
		if b {
			set++
		}
	}
	if set != 1 {
		return asn1.RawValue{}, errors.New("each general name must set exactly one field")
	}
	ctx := func(tag int, compound bool, b []byte) asn1.RawValue {
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: compound, Bytes: b}
	}
	switch {
	case g.OtherName != nil:
		oid, err := ParseOID(g.OtherName.TypeId)
		if err != nil {
			return asn1.RawValue{}, fmt.Errorf("OtherName: %w", err)
		}
		if g.OtherName.Value == "" || len(g.OtherName.Value) > 256 {
			return asn1.RawValue{}, errors.New("OtherName value must be 1 to 256 characters")
		}
		oidDER, _ := asn1.Marshal(oid)
		valDER, _ := asn1.Marshal(utf8Value(g.OtherName.Value))
		explicit, _ := asn1.Marshal(ctx(0, true, valDER))
		return ctx(0, true, append(oidDER, explicit...)), nil
	case g.Rfc822Name != "":
		if len(g.Rfc822Name) > 256 || !isIA5(g.Rfc822Name) || !strings.Contains(g.Rfc822Name, "@") && !strings.Contains(g.Rfc822Name, ".") {
			return asn1.RawValue{}, fmt.Errorf("Rfc822Name %q is not a valid mailbox or domain", g.Rfc822Name)
		}
		return ctx(1, false, []byte(g.Rfc822Name)), nil
	case g.DnsName != "":
		if !ValidDNSName(g.DnsName) {
			return asn1.RawValue{}, fmt.Errorf("DnsName %q is not a valid DNS name", g.DnsName)
		}
		return ctx(2, false, []byte(g.DnsName)), nil
	case g.DirectoryName != nil:
		if g.DirectoryName.IsEmpty() {
			return asn1.RawValue{}, errors.New("DirectoryName is empty")
		}
		der, err := g.DirectoryName.DER()
		if err != nil {
			return asn1.RawValue{}, fmt.Errorf("DirectoryName: %w", err)
		}
		return ctx(4, true, der), nil
	case g.EdiPartyName != nil:
		if g.EdiPartyName.PartyName == "" {
			return asn1.RawValue{}, errors.New("EdiPartyName needs a PartyName")
		}
		var b []byte
		if g.EdiPartyName.NameAssigner != "" {
			v, _ := asn1.Marshal(utf8Value(g.EdiPartyName.NameAssigner))
			e, _ := asn1.Marshal(ctx(0, true, v))
			b = append(b, e...)
		}
		v, _ := asn1.Marshal(utf8Value(g.EdiPartyName.PartyName))
		e, _ := asn1.Marshal(ctx(1, true, v))
		return ctx(5, true, append(b, e...)), nil
	case g.UniformResourceIdentifier != "":
		u := g.UniformResourceIdentifier
		if len(u) > 253 || !isIA5(u) || !strings.Contains(u, ":") {
			return asn1.RawValue{}, fmt.Errorf("UniformResourceIdentifier %q is not an absolute URI", u)
		}
		return ctx(6, false, []byte(u)), nil
	case g.IpAddress != "":
		ip, err := netip.ParseAddr(g.IpAddress)
		if err != nil || ip.Zone() != "" {
			return asn1.RawValue{}, fmt.Errorf("IpAddress %q is not an IPv4 or IPv6 address", g.IpAddress)
		}
		return ctx(7, false, ip.AsSlice()), nil
	default:
		oid, err := ParseOID(g.RegisteredId)
		if err != nil {
			return asn1.RawValue{}, fmt.Errorf("RegisteredId: %w", err)
		}
		der, _ := asn1.Marshal(oid)
		// Strip the universal OID header; the [8] tag replaces it.
		var raw asn1.RawValue
		asn1.Unmarshal(der, &raw)
		return ctx(8, false, raw.Bytes), nil
	}
}

// MarshalGeneralNames returns the DER of a GeneralNames SEQUENCE.
func MarshalGeneralNames(names []GeneralName) ([]byte, error) {
	if len(names) == 0 {
		return nil, errors.New("at least one general name is required")
	}
	raws := make([]asn1.RawValue, 0, len(names))
	for i := range names {
		r, err := names[i].encode()
		if err != nil {
			return nil, err
		}
		raws = append(raws, r)
	}
	return asn1.Marshal(raws)
}

func parseRDN(raw []byte, rdn *pkix.RDNSequence) error {
	rest, err := asn1.Unmarshal(raw, rdn)
	if err == nil && len(rest) > 0 {
		return errors.New("trailing data after name")
	}
	return err
}
