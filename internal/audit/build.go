package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// unknownOutcome marks a record stored with its change whose call never
// finished (additionalEventData).
const unknownOutcome = `{"sigilOutcome":"unknown: the server stopped before it recorded the outcome"}`

// record builds the call's CloudTrail record; with final false, one stored
// before the outcome is known. c.mu is held.
func (c *Call) record(response any, err error, final bool) *Record {
	l := c.log
	rec := &Record{EventVersion: EventVersion, EventTime: formatTime(c.time), EventSource: c.info.Source,
		EventName: c.info.Name, AWSRegion: l.region, SourceIPAddress: c.info.SourceIP, UserAgent: c.info.UserAgent,
		RequestID: c.info.RequestID, EventID: c.id, ReadOnly: ReadOnly(c.info.Name), EventType: "AwsApiCall",
		ManagementEvent: true, EventCategory: "Management"}
	if c.principal != nil {
		rec.UserIdentity = Identity(*c.principal)
		rec.RecipientAccountID = c.principal.Account
	} else {
		rec.UserIdentity = UserIdentity{Type: "Unknown"}
	}
	var top map[string]any
	rec.RequestParameters, top = redactBody(rawJSON(c.info.Request))
	rec.Resources = collectResources(rec.Resources, top, rec)
	switch {
	case !final:
		rec.AdditionalEventData = json.RawMessage(unknownOutcome)
	case err != nil:
		rec.ErrorCode = c.errorCode
		if rec.ErrorCode == "" {
			rec.ErrorCode = errorCode(err)
		}
		rec.ErrorMessage = errs.Message(err, "An internal error occurred.")
	case rec.ReadOnly:
		// CloudTrail keeps no response elements for reads; only the
		// resources the answer names (a secret's ARN, a key's) are kept.
		rec.Resources = collectResources(rec.Resources, readResources(rawJSON(response)), rec)
	default:
		rec.ResponseElements, top = redactBody(rawJSON(response))
		rec.Resources = collectResources(rec.Resources, top, rec)
	}
	return rec
}

// readResources decodes only the top-level fields of a read's answer that
// name resources, without building the rest (which may hold a secret).
func readResources(raw []byte) map[string]any {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var top struct {
		ARN                     string
		KeyID                   string `json:"KeyId"`
		CertificateArn          string
		CertificateAuthorityArn string
	}
	if json.Unmarshal(raw, &top) != nil {
		return nil
	}
	return map[string]any{"ARN": top.ARN, "KeyId": top.KeyID, "CertificateArn": top.CertificateArn,
		"CertificateAuthorityArn": top.CertificateAuthorityArn}
}

// errorCode is the code of an error that no front end named.
func errorCode(err error) string {
	if c := errs.CodeOf(err); c != "" {
		return string(c)
	}
	var e *errs.Error
	if errors.As(err, &e) {
		switch e.Kind {
		case errs.Invalid:
			return "ValidationException"
		case errs.NotFound:
			return "ResourceNotFoundException"
		case errs.Denied:
			return "AccessDenied"
		case errs.Unauthenticated:
			return "UnrecognizedClientException"
		}
	}
	return "InternalFailure"
}

// rawJSON returns a request or response as JSON bytes.
func rawJSON(v any) []byte {
	switch x := v.(type) {
	case nil:
		return nil
	case []byte:
		return x
	case json.RawMessage:
		return x
	case string:
		return []byte(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// row encodes the call's final record as a store row. c.mu is held.
func (c *Call) row(rec *Record) (*store.AuditEvent, error) {
	body, err := marshal(rec)
	if err != nil {
		return nil, err
	}
	return indexed(rec, c.time, string(body)), nil
}

// indexed returns the row of a record: its body and the fields the store
// indexes, which are all derived from the record (Verify derives them
// again to check the row).
func indexed(rec *Record, at time.Time, body string) *store.AuditEvent {
	e := &store.AuditEvent{ID: rec.EventID, Account: rec.RecipientAccountID, Time: at, Name: rec.EventName,
		Source: rec.EventSource, ReadOnly: rec.ReadOnly, Username: Username(rec.UserIdentity),
		AccessKeyID: rec.UserIdentity.AccessKeyID, RequestID: rec.RequestID, ErrorCode: rec.ErrorCode, Body: body}
	for _, r := range rec.Resources {
		e.Resources = append(e.Resources, store.AuditResource{Type: r.Type, Name: r.ARN})
	}
	return e
}

// parseRecord decodes a stored body.
func parseRecord(body string) (*Record, error) {
	var rec Record
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	if err := dec.Decode(&rec); err != nil {
		return nil, err
	}
	return &rec, nil
}
