// Package cloudtrail is the AWS CloudTrail API's LookupEvents (cloudtrail,
// 2013-11-01) over the audit trail: it decodes the AWS wire shape, calls
// the audit log, and encodes the answer.
package cloudtrail

import (
	"context"
	"strconv"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/audit"
	"github.com/sigilhq/sigil/internal/errs"
)

// TargetPrefix is CloudTrail's X-Amz-Target prefix.
const TargetPrefix = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"

const codeInvalidCategory = errs.Code("InvalidEventCategory")

// Errors maps audit errors to CloudTrail's wire errors.
var Errors = awsjson.ErrorTable{
	ByCode: map[errs.Code]string{
		audit.CodeInvalidAttributes: "InvalidLookupAttributesException",
		audit.CodeInvalidTimeRange:  "InvalidTimeRangeException",
		audit.CodeInvalidMaxResults: "InvalidMaxResultsException",
		audit.CodeInvalidNextToken:  "InvalidNextTokenException",
		codeInvalidCategory:         "InvalidEventCategoryException",
	},
	ByKind: map[errs.Kind]string{
		errs.Invalid: "InvalidParameterException",
	},
	MessageField: "Message",
}

// Service returns the cloudtrail operation table.
func Service(log *audit.Log) *awsjson.Service {
	h := handlers{log}
	return &awsjson.Service{
		TargetPrefix:  TargetPrefix,
		TargetAliases: []string{"CloudTrail_20131101"},
		SigningName:   "cloudtrail",
		Errors:        Errors,
		Operations: map[string]awsjson.Handler{
			"LookupEvents": awsjson.Op(h.lookup),
		},
	}
}

type handlers struct{ log *audit.Log }

type lookupAttribute struct {
	AttributeKey   string `json:"AttributeKey"`
	AttributeValue string `json:"AttributeValue"`
}

type lookupInput struct {
	LookupAttributes []lookupAttribute `json:"LookupAttributes"`
	StartTime        *awsjson.Time     `json:"StartTime"`
	EndTime          *awsjson.Time     `json:"EndTime"`
	EventCategory    string            `json:"EventCategory"`
	MaxResults       *int              `json:"MaxResults"`
	NextToken        string            `json:"NextToken"`
}

type resource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

type event struct {
	EventID         string        `json:"EventId"`
	EventName       string        `json:"EventName"`
	ReadOnly        string        `json:"ReadOnly"`
	AccessKeyID     string        `json:"AccessKeyId,omitempty"`
	EventTime       *awsjson.Time `json:"EventTime"`
	EventSource     string        `json:"EventSource"`
	Username        string        `json:"Username,omitempty"`
	Resources       []resource    `json:"Resources"`
	CloudTrailEvent string        `json:"CloudTrailEvent"`
}

type lookupOutput struct {
	Events    []event `json:"Events"`
	NextToken string  `json:"NextToken,omitempty"`
}

func (h handlers) lookup(ctx context.Context, c *awsjson.Call, in *lookupInput) (*lookupOutput, error) {
	if in.EventCategory != "" && in.EventCategory != "insight" {
		return nil, errs.Coded(errs.Invalid, codeInvalidCategory, "EventCategory must be insight.")
	}
	q := audit.LookupInput{NextToken: in.NextToken}
	if in.EventCategory == "insight" {
		// Sigil produces no Insights events.
		return &lookupOutput{Events: []event{}}, nil
	}
	for _, a := range in.LookupAttributes {
		q.Attributes = append(q.Attributes, audit.Attribute{Key: a.AttributeKey, Value: a.AttributeValue})
	}
	if in.StartTime != nil {
		q.Start = in.StartTime.Time
	}
	if in.EndTime != nil {
		q.End = in.EndTime.Time
	}
	if in.MaxResults != nil {
		q.MaxResults = *in.MaxResults
		if q.MaxResults == 0 {
			q.MaxResults = -1 // an explicit 0 is out of range
		}
	}
	res, err := h.log.Lookup(ctx, c.Principal, q)
	if err != nil {
		return nil, err
	}
	out := &lookupOutput{Events: []event{}, NextToken: res.NextToken}
	for _, e := range res.Events {
		ev := event{EventID: e.ID, EventName: e.Name, ReadOnly: strconv.FormatBool(e.ReadOnly), AccessKeyID: e.AccessKeyID,
			EventTime: awsjson.TimePtr(e.Time), EventSource: e.Source, Username: e.Username, Resources: []resource{},
			CloudTrailEvent: e.Record}
		for _, r := range e.Resources {
			ev.Resources = append(ev.Resources, resource{ResourceType: r.Type, ResourceName: r.Name})
		}
		out.Events = append(out.Events, ev)
	}
	return out, nil
}
