package audit

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/iam"
)

// EventVersion is the CloudTrail record format version Sigil writes.
const EventVersion = "1.09"

// Record is one audit record, with CloudTrail's field names.
type Record struct {
	EventVersion        string          `json:"eventVersion"`
	UserIdentity        UserIdentity    `json:"userIdentity"`
	EventTime           string          `json:"eventTime"`
	EventSource         string          `json:"eventSource"`
	EventName           string          `json:"eventName"`
	AWSRegion           string          `json:"awsRegion"`
	SourceIPAddress     string          `json:"sourceIPAddress"`
	UserAgent           string          `json:"userAgent"`
	ErrorCode           string          `json:"errorCode,omitempty"`
	ErrorMessage        string          `json:"errorMessage,omitempty"`
	RequestParameters   json.RawMessage `json:"requestParameters"`
	ResponseElements    json.RawMessage `json:"responseElements"`
	AdditionalEventData json.RawMessage `json:"additionalEventData,omitempty"`
	RequestID           string          `json:"requestID"`
	EventID             string          `json:"eventID"`
	ReadOnly            bool            `json:"readOnly"`
	Resources           []Resource      `json:"resources,omitempty"`
	EventType           string          `json:"eventType"`
	ManagementEvent     bool            `json:"managementEvent"`
	RecipientAccountID  string          `json:"recipientAccountId"`
	EventCategory       string          `json:"eventCategory"`
}

// UserIdentity says who called, as CloudTrail's userIdentity does.
type UserIdentity struct {
	Type           string          `json:"type"`
	PrincipalID    string          `json:"principalId,omitempty"`
	ARN            string          `json:"arn,omitempty"`
	AccountID      string          `json:"accountId,omitempty"`
	AccessKeyID    string          `json:"accessKeyId,omitempty"`
	UserName       string          `json:"userName,omitempty"`
	SessionContext *SessionContext `json:"sessionContext,omitempty"`
}

// SessionContext describes a role session.
type SessionContext struct {
	SessionIssuer SessionIssuer     `json:"sessionIssuer"`
	Attributes    map[string]string `json:"attributes,omitempty"`
}

// SessionIssuer is the role a session was issued for.
type SessionIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId,omitempty"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

// Resource is a resource a call named, as in CloudTrail's resources.
type Resource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId,omitempty"`
	Type      string `json:"type"`
}

// timeFormat is CloudTrail's eventTime format.
const timeFormat = "2006-01-02T15:04:05Z"

// Identity maps an authenticated principal to CloudTrail's userIdentity.
// It reads only the principal's Account, ARN, AccessKeyID and (when set)
// ID, and derives the type from the ARN: ":root" is Root, ":user/" an
// IAMUser, ":assumed-role/ROLE/SESSION" an AssumedRole whose session
// issuer is the role ROLE.
func Identity(p iam.Principal) UserIdentity {
	id := UserIdentity{ARN: p.ARN, AccountID: p.Account, AccessKeyID: p.AccessKeyID, PrincipalID: p.ID}
	resource := arnResource(p.ARN)
	switch {
	case resource == "root":
		id.Type = "Root"
		if id.PrincipalID == "" {
			id.PrincipalID = p.Account
		}
	case strings.HasPrefix(resource, "user/"):
		id.Type = "IAMUser"
		id.UserName = resource[strings.LastIndexByte(resource, '/')+1:]
	case strings.HasPrefix(resource, "assumed-role/"):
		id.Type = "AssumedRole"
		role, _, _ := strings.Cut(strings.TrimPrefix(resource, "assumed-role/"), "/")
		issuer := SessionIssuer{Type: "Role", ARN: "arn:aws:iam::" + p.Account + ":role/" + role, AccountID: p.Account, UserName: role}
		if unique, _, ok := strings.Cut(p.ID, ":"); ok {
			issuer.PrincipalID = unique
		}
		id.SessionContext = &SessionContext{SessionIssuer: issuer, Attributes: map[string]string{"mfaAuthenticated": "false"}}
	default:
		id.Type = "Unknown"
	}
	return id
}

// Username is what LookupEvents' Username attribute matches for an
// identity: a user's name, a role session's name, "root", or "".
func Username(id UserIdentity) string {
	switch id.Type {
	case "Root":
		return "root"
	case "IAMUser":
		return id.UserName
	case "AssumedRole":
		return id.ARN[strings.LastIndexByte(id.ARN, '/')+1:]
	}
	return ""
}

// arnResource returns the resource part of an ARN (after the fifth colon).
func arnResource(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[5]
}

// readOnlyPrefixes and readOnlyNames classify operations that change
// nothing, as CloudTrail's readOnly does.
var (
	readOnlyPrefixes = []string{"Get", "Describe", "List", "Lookup", "Validate", "BatchGet", "GenerateDataKey", "Search"}
	readOnlyNames    = map[string]bool{"Encrypt": true, "Decrypt": true, "ReEncrypt": true, "GenerateRandom": true,
		"GetRandomPassword": true, "Sign": true, "Verify": true, "GenerateMac": true, "VerifyMac": true}
)

// ReadOnly reports whether an operation only reads.
func ReadOnly(operation string) bool {
	if readOnlyNames[operation] {
		return true
	}
	for _, p := range readOnlyPrefixes {
		if strings.HasPrefix(operation, p) {
			return true
		}
	}
	return false
}

// EventSource returns the CloudTrail eventSource of an AWS signing name,
// e.g. "acm-pca" → "acm-pca.amazonaws.com".
func EventSource(signingName string) string {
	if signingName == "" {
		return ""
	}
	return signingName + ".amazonaws.com"
}

// resourceTypes maps "service:resource-kind" of an ARN to CloudTrail's
// resource type.
var resourceTypes = map[string]string{
	"secretsmanager:secret":                       "AWS::SecretsManager::Secret",
	"acm-pca:certificate-authority":               "AWS::ACMPCA::CertificateAuthority",
	"acm-pca:certificate-authority/x/certificate": "AWS::ACMPCA::Certificate",
	"acm:certificate":                             "AWS::CertificateManager::Certificate",
	"kms:key":                                     "AWS::KMS::Key",
	"kms:alias":                                   "AWS::KMS::Alias",
	"iam:user":                                    "AWS::IAM::User",
	"iam:role":                                    "AWS::IAM::Role",
	"iam:policy":                                  "AWS::IAM::Policy",
	"sts:assumed-role":                            "AWS::STS::AssumedRole",
}

var serviceTitles = map[string]string{"secretsmanager": "SecretsManager", "acm-pca": "ACMPCA",
	"acm": "CertificateManager", "kms": "KMS", "iam": "IAM", "sts": "STS", "sigil": "Sigil"}

// ResourceOf describes the resource an ARN names; ok is false for a string
// that is not an ARN of an account's resource.
func ResourceOf(arn string) (r Resource, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" || parts[4] == "" || parts[5] == "" {
		return Resource{}, false
	}
	service, res := parts[2], parts[5]
	kind := res
	if i := strings.IndexAny(res, ":/"); i >= 0 {
		kind = res[:i]
	}
	if service == "acm-pca" && strings.Contains(res, "/certificate/") {
		kind = "certificate-authority/x/certificate"
	}
	typ := resourceTypes[service+":"+kind]
	if typ == "" {
		title := serviceTitles[service]
		if title == "" {
			title = service
		}
		typ = "AWS::" + title + "::" + camel(kind)
	}
	return Resource{ARN: arn, AccountID: parts[4], Type: typ}, true
}

// camel turns "certificate-authority" into "CertificateAuthority".
func camel(s string) string {
	var b strings.Builder
	up := true
	for _, c := range s {
		if c == '-' || c == '_' {
			up = true
			continue
		}
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		b.WriteRune(c)
	}
	return b.String()
}

var keyUUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// resourceField reports whether a top-level request or response field
// names a resource: fields ending in Arn or ARN, SecretId and KeyId.
func resourceField(name string) bool {
	return strings.HasSuffix(name, "Arn") || strings.HasSuffix(name, "ARN") || name == "SecretId" || name == "KeyId"
}

// collectResources adds the resources named by the top-level fields of a
// request or response, and by the fields of a KMS KeyMetadata object
// (CreateKey's answer names its key only there). A bare KMS key ID becomes
// its key ARN in the caller's account and region.
func collectResources(dst []Resource, top map[string]any, rec *Record) []Resource {
	if meta, ok := top["KeyMetadata"].(map[string]any); ok {
		dst = collectResources(dst, map[string]any{"Arn": meta["Arn"]}, rec)
	}
	names := make([]string, 0, len(top))
	for name := range top {
		if resourceField(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		v, _ := top[name].(string)
		if name == "KeyId" && rec.EventSource == "kms.amazonaws.com" && rec.RecipientAccountID != "" && keyUUID.MatchString(v) {
			v = "arn:aws:kms:" + rec.AWSRegion + ":" + rec.RecipientAccountID + ":key/" + v
		}
		r, ok := ResourceOf(v)
		if !ok {
			continue
		}
		dup := false
		for _, d := range dst {
			if d.ARN == r.ARN {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, r)
		}
	}
	return dst
}

// formatTime renders an eventTime.
func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }
