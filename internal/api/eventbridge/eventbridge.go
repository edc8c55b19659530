// Package eventbridge is the Amazon EventBridge API (events, 2015-10-07,
// X-Amz-Target "AWSEvents.*") over Sigil's event bus: rules with event
// patterns, targets, connections and API destinations (how webhooks are
// reached), TestEventPattern and PutEvents.
package eventbridge

import (
	"context"
	"strings"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events"
)

// Errors maps event-bus errors to EventBridge's wire errors.
var Errors = awsjson.ErrorTable{
	ByCode: map[errs.Code]string{
		events.CodeInvalidPattern: "InvalidEventPatternException",
		events.CodeResourceExists: "ResourceAlreadyExistsException",
		events.CodeLimitExceeded:  "LimitExceededException",
	},
	ByKind: map[errs.Kind]string{
		errs.NotFound: "ResourceNotFoundException",
		errs.Invalid:  "ValidationException",
		errs.Conflict: "ConcurrentModificationException",
		errs.State:    "ConcurrentModificationException",
	},
}

// Service returns the events operation table.
func Service(bus *events.Bus) *awsjson.Service {
	h := handlers{bus}
	return &awsjson.Service{
		TargetPrefix: "AWSEvents",
		SigningName:  "events",
		Errors:       Errors,
		Operations: map[string]awsjson.Handler{
			"PutRule":                awsjson.Op(h.putRule),
			"DescribeRule":           awsjson.Op(h.describeRule),
			"ListRules":              awsjson.Op(h.listRules),
			"DeleteRule":             awsjson.Op(h.deleteRule),
			"EnableRule":             awsjson.Op(h.enableRule),
			"DisableRule":            awsjson.Op(h.disableRule),
			"PutTargets":             awsjson.Op(h.putTargets),
			"ListTargetsByRule":      awsjson.Op(h.listTargets),
			"RemoveTargets":          awsjson.Op(h.removeTargets),
			"TestEventPattern":       awsjson.Op(h.testEventPattern),
			"PutEvents":              awsjson.Op(h.putEvents),
			"CreateConnection":       awsjson.Op(h.createConnection),
			"DescribeConnection":     awsjson.Op(h.describeConnection),
			"ListConnections":        awsjson.Op(h.listConnections),
			"DeleteConnection":       awsjson.Op(h.deleteConnection),
			"CreateApiDestination":   awsjson.Op(h.createDestination),
			"DescribeApiDestination": awsjson.Op(h.describeDestination),
			"ListApiDestinations":    awsjson.Op(h.listDestinations),
			"DeleteApiDestination":   awsjson.Op(h.deleteDestination),
		},
	}
}

type handlers struct{ bus *events.Bus }

type empty struct{}

// ---- rules ----

type putRuleInput struct {
	Name, ScheduleExpression, EventPattern, State, Description, RoleArn, EventBusName string
}

type putRuleOutput struct {
	RuleArn string `json:"RuleArn"`
}

func (h handlers) putRule(ctx context.Context, c *awsjson.Call, in *putRuleInput) (*putRuleOutput, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	arn, err := h.bus.PutRule(ctx, c.Principal, events.PutRuleInput{Name: in.Name, EventPattern: in.EventPattern, State: in.State,
		Description: in.Description, Bus: in.EventBusName, ScheduleExpression: in.ScheduleExpression})
	if err != nil {
		return nil, err
	}
	return &putRuleOutput{RuleArn: arn}, nil
}

type ruleInput struct {
	Name, EventBusName string
	Force              bool
}

type rule struct {
	Name         string `json:"Name"`
	Arn          string `json:"Arn"`
	EventPattern string `json:"EventPattern,omitempty"`
	State        string `json:"State"`
	Description  string `json:"Description,omitempty"`
	EventBusName string `json:"EventBusName"`
}

func ruleOut(r *events.Rule) rule {
	return rule{Name: r.Name, Arn: r.ARN, EventPattern: r.EventPattern, State: r.State, Description: r.Description, EventBusName: events.DefaultBus}
}

func (h handlers) describeRule(ctx context.Context, c *awsjson.Call, in *ruleInput) (*rule, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	r, err := h.bus.DescribeRule(ctx, c.Principal, in.Name, in.EventBusName)
	if err != nil {
		return nil, err
	}
	out := ruleOut(r)
	return &out, nil
}

type listRulesInput struct {
	NamePrefix, EventBusName, NextToken string
	Limit                               int
}

type listRulesOutput struct {
	Rules     []rule `json:"Rules"`
	NextToken string `json:"NextToken,omitempty"`
}

func (h handlers) listRules(ctx context.Context, c *awsjson.Call, in *listRulesInput) (*listRulesOutput, error) {
	rs, next, err := h.bus.ListRules(ctx, c.Principal, in.NamePrefix, in.EventBusName, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	out := &listRulesOutput{Rules: []rule{}, NextToken: next}
	for _, r := range rs {
		out.Rules = append(out.Rules, ruleOut(r))
	}
	return out, nil
}

func (h handlers) deleteRule(ctx context.Context, c *awsjson.Call, in *ruleInput) (*empty, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	return nil, h.bus.DeleteRule(ctx, c.Principal, in.Name, in.EventBusName)
}

func (h handlers) enableRule(ctx context.Context, c *awsjson.Call, in *ruleInput) (*empty, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	return nil, h.bus.SetRuleState(ctx, c.Principal, in.Name, in.EventBusName, events.Enabled)
}

func (h handlers) disableRule(ctx context.Context, c *awsjson.Call, in *ruleInput) (*empty, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	return nil, h.bus.SetRuleState(ctx, c.Principal, in.Name, in.EventBusName, events.Disabled)
}

// ---- targets ----

type target struct {
	Id               string                   `json:"Id"`
	Arn              string                   `json:"Arn"`
	RoleArn          string                   `json:"RoleArn,omitempty"`
	Input            string                   `json:"Input,omitempty"`
	InputPath        string                   `json:"InputPath,omitempty"`
	InputTransformer *events.InputTransformer `json:"InputTransformer,omitempty"`
	RetryPolicy      *events.RetryPolicy      `json:"RetryPolicy,omitempty"`
	HttpParameters   *events.HTTPParameters   `json:"HttpParameters,omitempty"`
	DeadLetterConfig *struct {
		Arn string `json:"Arn"`
	} `json:"DeadLetterConfig,omitempty"`
}

type putTargetsInput struct {
	Rule, EventBusName string
	Targets            []target
}

type failedEntry struct {
	TargetId, ErrorCode, ErrorMessage string
}

type targetsOutput struct {
	FailedEntryCount int           `json:"FailedEntryCount"`
	FailedEntries    []failedEntry `json:"FailedEntries"`
}

func failures(f []events.TargetFailure) *targetsOutput {
	out := &targetsOutput{FailedEntryCount: len(f), FailedEntries: []failedEntry{}}
	for _, x := range f {
		out.FailedEntries = append(out.FailedEntries, failedEntry{TargetId: x.TargetID, ErrorCode: x.ErrorCode, ErrorMessage: x.ErrorMessage})
	}
	return out
}

func (h handlers) putTargets(ctx context.Context, c *awsjson.Call, in *putTargetsInput) (*targetsOutput, error) {
	if in.Rule == "" {
		return nil, awsjson.Required("rule")
	}
	ts := make([]events.Target, len(in.Targets))
	for i, t := range in.Targets {
		if t.DeadLetterConfig != nil && t.DeadLetterConfig.Arn != "" {
			return nil, errs.New(errs.Invalid, "DeadLetterConfig is not supported by Sigil: dead-lettered deliveries stay in the delivery log as FAILED.")
		}
		ts[i] = events.Target{ID: t.Id, ARN: t.Arn, Input: t.Input, InputPath: t.InputPath, InputTransformer: t.InputTransformer,
			RetryPolicy: t.RetryPolicy, HTTPParameters: t.HttpParameters}
	}
	f, err := h.bus.PutTargets(ctx, c.Principal, in.Rule, in.EventBusName, ts)
	if err != nil {
		return nil, err
	}
	return failures(f), nil
}

type listTargetsInput struct {
	Rule, EventBusName, NextToken string
	Limit                         int
}

type listTargetsOutput struct {
	Targets []target `json:"Targets"`
}

func (h handlers) listTargets(ctx context.Context, c *awsjson.Call, in *listTargetsInput) (*listTargetsOutput, error) {
	if in.Rule == "" {
		return nil, awsjson.Required("rule")
	}
	ts, err := h.bus.ListTargets(ctx, c.Principal, in.Rule, in.EventBusName)
	if err != nil {
		return nil, err
	}
	out := &listTargetsOutput{Targets: []target{}}
	for _, t := range ts {
		out.Targets = append(out.Targets, target{Id: t.ID, Arn: t.ARN, Input: t.Input, InputPath: t.InputPath,
			InputTransformer: t.InputTransformer, RetryPolicy: t.RetryPolicy, HttpParameters: t.HTTPParameters})
	}
	return out, nil
}

type removeTargetsInput struct {
	Rule, EventBusName string
	Ids                []string
	Force              bool
}

func (h handlers) removeTargets(ctx context.Context, c *awsjson.Call, in *removeTargetsInput) (*targetsOutput, error) {
	if in.Rule == "" {
		return nil, awsjson.Required("rule")
	}
	if len(in.Ids) == 0 {
		return nil, awsjson.Required("ids")
	}
	f, err := h.bus.RemoveTargets(ctx, c.Principal, in.Rule, in.EventBusName, in.Ids)
	if err != nil {
		return nil, err
	}
	return failures(f), nil
}

// ---- patterns and events ----

type testPatternInput struct {
	EventPattern, Event string
}

type testPatternOutput struct {
	Result bool `json:"Result"`
}

func (h handlers) testEventPattern(ctx context.Context, c *awsjson.Call, in *testPatternInput) (*testPatternOutput, error) {
	if in.EventPattern == "" {
		return nil, awsjson.Required("eventPattern")
	}
	if in.Event == "" {
		return nil, awsjson.Required("event")
	}
	ok, err := h.bus.TestEventPattern(ctx, c.Principal, in.EventPattern, in.Event)
	if err != nil {
		return nil, err
	}
	return &testPatternOutput{Result: ok}, nil
}

type putEventsEntry struct {
	Time                                     *awsjson.Time
	Source, DetailType, Detail, EventBusName string
	Resources                                []string
}

type putEventsInput struct {
	Entries []putEventsEntry
}

type putEventsResult struct {
	EventId      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

type putEventsOutput struct {
	FailedEntryCount int               `json:"FailedEntryCount"`
	Entries          []putEventsResult `json:"Entries"`
}

func (h handlers) putEvents(ctx context.Context, c *awsjson.Call, in *putEventsInput) (*putEventsOutput, error) {
	entries := make([]events.PutEventsEntry, len(in.Entries))
	for i, e := range in.Entries {
		entries[i] = events.PutEventsEntry{Source: e.Source, DetailType: e.DetailType, Detail: e.Detail, Bus: e.EventBusName, Resources: e.Resources}
		if e.Time != nil {
			entries[i].Time = e.Time.Time
		}
	}
	res, failed, err := h.bus.PutEvents(ctx, c.Principal, entries)
	if err != nil {
		return nil, err
	}
	out := &putEventsOutput{FailedEntryCount: failed}
	for _, r := range res {
		out.Entries = append(out.Entries, putEventsResult{EventId: r.EventID, ErrorCode: r.ErrorCode, ErrorMessage: r.ErrorMessage})
	}
	return out, nil
}

// ---- connections ----

type authParameters struct {
	ApiKeyAuthParameters *struct {
		ApiKeyName  string `json:"ApiKeyName"`
		ApiKeyValue string `json:"ApiKeyValue,omitempty"`
	} `json:"ApiKeyAuthParameters,omitempty"`
	BasicAuthParameters *struct {
		Username string `json:"Username"`
		Password string `json:"Password,omitempty"`
	} `json:"BasicAuthParameters,omitempty"`
	OAuthParameters any `json:"OAuthParameters,omitempty"`
}

type createConnectionInput struct {
	Name, Description, AuthorizationType string
	AuthParameters                       *authParameters
}

type connectionOutput struct {
	ConnectionArn     string          `json:"ConnectionArn"`
	Name              string          `json:"Name,omitempty"`
	Description       string          `json:"Description,omitempty"`
	ConnectionState   string          `json:"ConnectionState"`
	AuthorizationType string          `json:"AuthorizationType,omitempty"`
	AuthParameters    *authParameters `json:"AuthParameters,omitempty"`
	CreationTime      *awsjson.Time   `json:"CreationTime,omitempty"`
	LastModifiedTime  *awsjson.Time   `json:"LastModifiedTime,omitempty"`
}

func connectionOut(cn *events.Connection, details bool) *connectionOutput {
	out := &connectionOutput{ConnectionArn: cn.ARN, Name: cn.Name, ConnectionState: cn.State, AuthorizationType: cn.AuthorizationType,
		CreationTime: awsjson.TimePtr(cn.CreatedAt), LastModifiedTime: awsjson.TimePtr(cn.UpdatedAt)}
	if details {
		out.Description = cn.Description
		ap := &authParameters{}
		switch cn.AuthorizationType {
		case events.AuthAPIKey:
			ap.ApiKeyAuthParameters = &struct {
				ApiKeyName  string `json:"ApiKeyName"`
				ApiKeyValue string `json:"ApiKeyValue,omitempty"`
			}{ApiKeyName: cn.APIKeyName}
		case events.AuthBasic:
			ap.BasicAuthParameters = &struct {
				Username string `json:"Username"`
				Password string `json:"Password,omitempty"`
			}{Username: cn.Username}
		}
		out.AuthParameters = ap
	}
	return out
}

func (h handlers) createConnection(ctx context.Context, c *awsjson.Call, in *createConnectionInput) (*connectionOutput, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	if in.AuthParameters == nil {
		return nil, awsjson.Required("authParameters")
	}
	ci := events.ConnectionInput{Name: in.Name, Description: in.Description, AuthorizationType: in.AuthorizationType}
	if p := in.AuthParameters.ApiKeyAuthParameters; p != nil {
		ci.APIKeyName, ci.APIKeyValue = p.ApiKeyName, p.ApiKeyValue
	}
	if p := in.AuthParameters.BasicAuthParameters; p != nil {
		ci.Username, ci.Password = p.Username, p.Password
	}
	cn, err := h.bus.CreateConnection(ctx, c.Principal, ci)
	if err != nil {
		return nil, err
	}
	out := connectionOut(cn, false)
	out.Name = ""
	return out, nil
}

type nameInput struct {
	Name string
}

func (h handlers) describeConnection(ctx context.Context, c *awsjson.Call, in *nameInput) (*connectionOutput, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	cn, err := h.bus.DescribeConnection(ctx, c.Principal, in.Name)
	if err != nil {
		return nil, err
	}
	return connectionOut(cn, true), nil
}

type listInput struct {
	NamePrefix, NextToken string
	Limit                 int
}

type listConnectionsOutput struct {
	Connections []*connectionOutput `json:"Connections"`
}

func (h handlers) listConnections(ctx context.Context, c *awsjson.Call, in *listInput) (*listConnectionsOutput, error) {
	list, err := h.bus.ListConnections(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	out := &listConnectionsOutput{Connections: []*connectionOutput{}}
	for _, cn := range list {
		if strings.HasPrefix(cn.Name, in.NamePrefix) {
			out.Connections = append(out.Connections, connectionOut(cn, false))
		}
	}
	return out, nil
}

func (h handlers) deleteConnection(ctx context.Context, c *awsjson.Call, in *nameInput) (*connectionOutput, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	cn, err := h.bus.DeleteConnection(ctx, c.Principal, in.Name)
	if err != nil {
		return nil, err
	}
	return &connectionOutput{ConnectionArn: cn.ARN, ConnectionState: "DELETING", CreationTime: awsjson.TimePtr(cn.CreatedAt),
		LastModifiedTime: awsjson.TimePtr(cn.UpdatedAt)}, nil
}

// ---- API destinations ----

type destinationInput struct {
	Name, Description, ConnectionArn, InvocationEndpoint, HttpMethod string
	InvocationRateLimitPerSecond                                     int
}

type destinationOutput struct {
	ApiDestinationArn            string        `json:"ApiDestinationArn"`
	Name                         string        `json:"Name,omitempty"`
	ApiDestinationState          string        `json:"ApiDestinationState"`
	ConnectionArn                string        `json:"ConnectionArn,omitempty"`
	InvocationEndpoint           string        `json:"InvocationEndpoint,omitempty"`
	HttpMethod                   string        `json:"HttpMethod,omitempty"`
	InvocationRateLimitPerSecond int           `json:"InvocationRateLimitPerSecond,omitempty"`
	CreationTime                 *awsjson.Time `json:"CreationTime,omitempty"`
	LastModifiedTime             *awsjson.Time `json:"LastModifiedTime,omitempty"`
}

func destinationOut(d *events.Destination) *destinationOutput {
	return &destinationOutput{ApiDestinationArn: d.ARN, Name: d.Name, ApiDestinationState: d.State, ConnectionArn: d.ConnectionARN,
		InvocationEndpoint: d.Endpoint, HttpMethod: d.Method, InvocationRateLimitPerSecond: d.RateLimit,
		CreationTime: awsjson.TimePtr(d.CreatedAt), LastModifiedTime: awsjson.TimePtr(d.UpdatedAt)}
}

func (h handlers) createDestination(ctx context.Context, c *awsjson.Call, in *destinationInput) (*destinationOutput, error) {
	switch {
	case in.Name == "":
		return nil, awsjson.Required("name")
	case in.ConnectionArn == "":
		return nil, awsjson.Required("connectionArn")
	case in.InvocationEndpoint == "":
		return nil, awsjson.Required("invocationEndpoint")
	case in.HttpMethod == "":
		return nil, awsjson.Required("httpMethod")
	}
	d, err := h.bus.CreateApiDestination(ctx, c.Principal, events.DestinationInput{Name: in.Name, Description: in.Description,
		ConnectionARN: in.ConnectionArn, Endpoint: in.InvocationEndpoint, Method: in.HttpMethod, RateLimit: in.InvocationRateLimitPerSecond})
	if err != nil {
		return nil, err
	}
	return &destinationOutput{ApiDestinationArn: d.ARN, ApiDestinationState: d.State, CreationTime: awsjson.TimePtr(d.CreatedAt),
		LastModifiedTime: awsjson.TimePtr(d.UpdatedAt)}, nil
}

func (h handlers) describeDestination(ctx context.Context, c *awsjson.Call, in *nameInput) (*destinationOutput, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	d, err := h.bus.DescribeApiDestination(ctx, c.Principal, in.Name)
	if err != nil {
		return nil, err
	}
	return destinationOut(d), nil
}

type listDestinationsOutput struct {
	ApiDestinations []*destinationOutput `json:"ApiDestinations"`
}

func (h handlers) listDestinations(ctx context.Context, c *awsjson.Call, in *listInput) (*listDestinationsOutput, error) {
	list, err := h.bus.ListApiDestinations(ctx, c.Principal)
	if err != nil {
		return nil, err
	}
	out := &listDestinationsOutput{ApiDestinations: []*destinationOutput{}}
	for _, d := range list {
		if strings.HasPrefix(d.Name, in.NamePrefix) {
			out.ApiDestinations = append(out.ApiDestinations, destinationOut(d))
		}
	}
	return out, nil
}

func (h handlers) deleteDestination(ctx context.Context, c *awsjson.Call, in *nameInput) (*empty, error) {
	if in.Name == "" {
		return nil, awsjson.Required("name")
	}
	return nil, h.bus.DeleteApiDestination(ctx, c.Principal, in.Name)
}
