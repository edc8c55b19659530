package audit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// Error codes of Lookup.
const (
	CodeInvalidAttributes = errs.Code("InvalidLookupAttributes")
	CodeInvalidTimeRange  = errs.Code("InvalidTimeRange")
	CodeInvalidMaxResults = errs.Code("InvalidMaxResults")
	CodeInvalidNextToken  = errs.Code("InvalidNextToken")
)

// Attributes are the lookup attributes, as CloudTrail names them.
var Attributes = []string{"EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId"}

// MaxLookupResults is the largest page (and the default).
const MaxLookupResults = 50

// Attribute is one lookup filter.
type Attribute struct {
	Key, Value string
}

// LookupInput selects an account's records, newest first.
type LookupInput struct {
	Attributes []Attribute // at most one
	Start, End time.Time   // inclusive; zero: no bound
	MaxResults int         // 1 to 50; 0 means 50
	NextToken  string
}

// Event is one record found by Lookup.
type Event struct {
	ID          string
	Name        string
	Source      string
	ReadOnly    bool
	Username    string
	AccessKeyID string
	Time        time.Time
	Resources   []store.AuditResource
	Record      string // the whole record, JSON
}

// LookupOutput is a page of events.
type LookupOutput struct {
	Events    []Event
	NextToken string
}

// Lookup returns a page of the caller's account's records, as CloudTrail's
// LookupEvents does. Records finished on this node before the call are
// included (it flushes first); other nodes' are, within their flush
// interval.
func (l *Log) Lookup(ctx context.Context, p iam.Principal, in LookupInput) (*LookupOutput, error) {
	if err := l.authz.Authorize(ctx, p, iam.Request{Action: "cloudtrail:LookupEvents", Resource: "*"}); err != nil {
		return nil, err
	}
	q, err := lookupQuery(p.Account, in)
	if err != nil {
		return nil, err
	}
	if err := l.Flush(ctx); err != nil {
		return nil, err
	}
	var rows []*store.AuditEvent
	if err := l.store.View(ctx, func(tx store.Tx) (err error) {
		rows, err = tx.AuditEvents().Query(ctx, q)
		return err
	}); err != nil {
		return nil, err
	}
	out := &LookupOutput{}
	for i, e := range rows {
		if i == q.Limit-1 {
			break
		}
		ev := Event{ID: e.ID, Name: e.Name, Source: e.Source, ReadOnly: e.ReadOnly, Username: e.Username,
			AccessKeyID: e.AccessKeyID, Time: e.Time, Record: e.Body}
		var rec struct {
			Resources []Resource `json:"resources"`
		}
		if json.Unmarshal([]byte(e.Body), &rec) == nil {
			for _, r := range rec.Resources {
				ev.Resources = append(ev.Resources, store.AuditResource{Type: r.Type, Name: r.ARN})
			}
		}
		out.Events = append(out.Events, ev)
	}
	if len(rows) == q.Limit { // one more than asked for: there is a next page
		last := out.Events[len(out.Events)-1]
		out.NextToken = encodeToken(lookupToken{Time: last.Time.UnixMicro(), Position: rows[len(out.Events)-1].Position,
			Filter: filterHash(p.Account, in)})
	}
	return out, nil
}

// lookupQuery checks a lookup and turns it into a store query that asks
// for one record more than the page, to know whether another page follows.
func lookupQuery(account string, in LookupInput) (store.AuditQuery, error) {
	q := store.AuditQuery{Account: account, From: in.Start, To: in.End}
	switch {
	case len(in.Attributes) > 1:
		return q, errs.Coded(errs.Invalid, CodeInvalidAttributes, "You can specify only one lookup attribute.")
	case len(in.Attributes) == 1:
		a := in.Attributes[0]
		valid := false
		for _, k := range Attributes {
			valid = valid || k == a.Key
		}
		switch {
		case !valid:
			return q, errs.Coded(errs.Invalid, CodeInvalidAttributes, "The lookup attribute key %q is not valid; use one of %s.",
				a.Key, strings.Join(Attributes, ", "))
		case a.Value == "" || len(a.Value) > 2000:
			return q, errs.Coded(errs.Invalid, CodeInvalidAttributes, "The value of the lookup attribute %s must be 1 to 2000 characters long.", a.Key)
		case a.Key == "ReadOnly" && a.Value != "true" && a.Value != "false":
			return q, errs.Coded(errs.Invalid, CodeInvalidAttributes, "The value of the lookup attribute ReadOnly must be true or false.")
		}
		q.Attribute, q.Value = a.Key, a.Value
	}
	if !in.Start.IsZero() && !in.End.IsZero() && in.Start.After(in.End) {
		return q, errs.Coded(errs.Invalid, CodeInvalidTimeRange, "The start time must not be after the end time.")
	}
	switch {
	case in.MaxResults == 0:
		q.Limit = MaxLookupResults
	case in.MaxResults < 1 || in.MaxResults > MaxLookupResults:
		return q, errs.Coded(errs.Invalid, CodeInvalidMaxResults, "MaxResults must be between 1 and %d.", MaxLookupResults)
	default:
		q.Limit = in.MaxResults
	}
	q.Limit++
	if in.NextToken != "" {
		t, ok := decodeToken(in.NextToken)
		if !ok || t.Filter != filterHash(account, in) {
			return q, errs.Coded(errs.Invalid, CodeInvalidNextToken, "The NextToken is not valid for this request.")
		}
		q.Before = &store.AuditCursor{Time: time.UnixMicro(t.Time).UTC(), Position: t.Position}
	}
	return q, nil
}

// lookupToken is the opaque NextToken: where the page ended, and a hash of
// the filters it belongs to (a token is refused with other filters).
type lookupToken struct {
	Time     int64  `json:"t"`
	Position int64  `json:"p"`
	Filter   string `json:"f"`
}

func filterHash(account string, in LookupInput) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00%d", account, in.Start.UnixMicro(), in.End.UnixMicro())
	for _, a := range in.Attributes {
		fmt.Fprintf(h, "\x00%s\x00%s", a.Key, a.Value)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func encodeToken(t lookupToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s string) (lookupToken, bool) {
	var t lookupToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &t) != nil || t.Position <= 0 {
		return t, false
	}
	return t, true
}
