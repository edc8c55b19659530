package events

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/events/pattern"
	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// Error codes of the event bus; the EventBridge adapter maps them.
const (
	CodeInvalidPattern errs.Code = "InvalidEventPattern"
	CodeResourceExists errs.Code = "ResourceAlreadyExists"
	CodeLimitExceeded  errs.Code = "LimitExceeded"
)

// Limits, as EventBridge sets them.
const (
	MaxPatternLength  = 4096
	MaxTargetsPerRule = 5
	MaxRulesPerBus    = 300
	MaxPutEntries     = 10
	MaxEntrySize      = 256 << 10
	DefaultBus        = "default"
	// Default retry policy of a target (EventBridge's).
	DefaultMaxAttempts = 185
	DefaultMaxAge      = 24 * time.Hour
)

// Rule states.
const (
	Enabled  = "ENABLED"
	Disabled = "DISABLED"
)

// Authorizer decides whether a principal may act.
type Authorizer interface {
	Authorize(ctx context.Context, p iam.Principal, r iam.Request) error
}

// Sealer protects connection secrets at rest.
type Sealer interface {
	Seal(plaintext, context []byte) ([]byte, error)
	Open(blob, context []byte) ([]byte, error)
}

// Bus is each account's default event bus: rules, their targets, the
// connections and API destinations targets reach webhooks through, and
// PutEvents. Delivery is the Dispatcher's.
type Bus struct {
	store  store.Store
	authz  Authorizer
	sealer Sealer
	clock  clock.Clock
	region string
}

// NewBus returns the event bus service.
func NewBus(st store.Store, authz Authorizer, sealer Sealer, clk clock.Clock, region string) *Bus {
	if region == "" {
		region = "us-east-1"
	}
	return &Bus{store: st, authz: authz, sealer: sealer, clock: clk, region: region}
}

var nameRE = regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`)

func (b *Bus) ruleARN(account, name string) string {
	return "arn:aws:events:" + b.region + ":" + account + ":rule/" + name
}

func validation(format string, a ...any) error { return errs.New(errs.Invalid, format, a...) }

func notFound(format string, a ...any) error { return errs.New(errs.NotFound, format, a...) }

func checkName(field, name string) error {
	if !nameRE.MatchString(name) {
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+ and have length between 1 and 64", name, field)
	}
	return nil
}

func checkBus(bus string) error {
	if bus != "" && bus != DefaultBus && !strings.HasSuffix(bus, ":event-bus/"+DefaultBus) {
		return notFound("Event bus %s does not exist; Sigil has only the default bus.", bus)
	}
	return nil
}

// CompilePattern checks an event pattern as PutRule does.
func CompilePattern(doc string) (*pattern.Pattern, error) {
	if len(doc) > MaxPatternLength {
		return nil, errs.Coded(errs.Invalid, CodeInvalidPattern, "Event pattern is longer than %d characters.", MaxPatternLength)
	}
	p, err := pattern.Compile(doc)
	if err != nil {
		return nil, errs.Coded(errs.Invalid, CodeInvalidPattern, "Event pattern is not valid. Reason: %s", err.Error())
	}
	return p, nil
}

// PutRuleInput creates or updates a rule.
type PutRuleInput struct {
	Name, EventPattern, State, Description, Bus, ScheduleExpression string
}

// PutRule creates or updates a rule and returns its ARN.
func (b *Bus) PutRule(ctx context.Context, p iam.Principal, in PutRuleInput) (string, error) {
	if err := checkName("name", in.Name); err != nil {
		return "", err
	}
	arn := b.ruleARN(p.Account, in.Name)
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:PutRule", Resource: arn}); err != nil {
		return "", err
	}
	if err := checkBus(in.Bus); err != nil {
		return "", err
	}
	if in.ScheduleExpression != "" {
		return "", validation("Scheduled rules are not supported by Sigil: give an EventPattern.")
	}
	if in.EventPattern == "" {
		return "", validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	if _, err := CompilePattern(in.EventPattern); err != nil {
		return "", err
	}
	switch in.State {
	case "":
		in.State = Enabled
	case Enabled, Disabled:
	default:
		return "", validation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]", in.State)
	}
	if len(in.Description) > 512 {
		return "", validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 512")
	}
	now := b.clock.Now()
	err := b.store.Update(ctx, func(tx store.Tx) error {
		rules := tx.EventRules()
		created := now
		if old, err := rules.GetRule(ctx, p.Account, in.Name); err == nil {
			created = old.CreatedAt
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		} else if n, err := rules.ListRules(ctx, p.Account, "", "", MaxRulesPerBus); err != nil {
			return err
		} else if len(n) >= MaxRulesPerBus {
			return errs.Coded(errs.Invalid, CodeLimitExceeded, "The requested resource exceeds the maximum number allowed (%d rules).", MaxRulesPerBus)
		}
		if err := rules.PutRule(ctx, &store.EventRule{Account: p.Account, Name: in.Name, ARN: arn, Pattern: in.EventPattern,
			State: in.State, Description: in.Description, CreatedAt: created, UpdatedAt: now}); err != nil {
			return err
		}
		return rules.BumpGeneration(ctx)
	})
	return arn, err
}

// Rule is a rule as DescribeRule shows it.
type Rule struct {
	Name, ARN, EventPattern, State, Description string
	CreatedAt                                   time.Time
}

func ruleView(r *store.EventRule) *Rule {
	return &Rule{Name: r.Name, ARN: r.ARN, EventPattern: r.Pattern, State: r.State, Description: r.Description, CreatedAt: r.CreatedAt}
}

func (b *Bus) getRule(ctx context.Context, tx store.Tx, account, name string) (*store.EventRule, error) {
	r, err := tx.EventRules().GetRule(ctx, account, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("Rule %s does not exist on EventBus default.", name)
	}
	return r, err
}

// DescribeRule returns a rule.
func (b *Bus) DescribeRule(ctx context.Context, p iam.Principal, name, bus string) (*Rule, error) {
	if err := checkName("name", name); err != nil {
		return nil, err
	}
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:DescribeRule", Resource: b.ruleARN(p.Account, name)}); err != nil {
		return nil, err
	}
	if err := checkBus(bus); err != nil {
		return nil, err
	}
	var r *store.EventRule
	err := b.store.View(ctx, func(tx store.Tx) (err error) {
		r, err = b.getRule(ctx, tx, p.Account, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ruleView(r), nil
}

// ListRules lists an account's rules by name prefix, NextToken being the
// last name of the previous page.
func (b *Bus) ListRules(ctx context.Context, p iam.Principal, prefix, bus, next string, limit int) ([]*Rule, string, error) {
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:ListRules", Resource: "*"}); err != nil {
		return nil, "", err
	}
	if err := checkBus(bus); err != nil {
		return nil, "", err
	}
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 100 {
		return nil, "", validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 100", limit)
	}
	var rs []*store.EventRule
	err := b.store.View(ctx, func(tx store.Tx) (err error) {
		rs, err = tx.EventRules().ListRules(ctx, p.Account, prefix, next, limit+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	token := ""
	if len(rs) > limit {
		rs = rs[:limit]
		token = rs[limit-1].Name
	}
	out := make([]*Rule, len(rs))
	for i, r := range rs {
		out[i] = ruleView(r)
	}
	return out, token, nil
}

// SetRuleState enables or disables a rule.
func (b *Bus) SetRuleState(ctx context.Context, p iam.Principal, name, bus, state string) error {
	action := "events:EnableRule"
	if state == Disabled {
		action = "events:DisableRule"
	}
	return b.changeRule(ctx, p, action, name, bus, func(tx store.Tx, r *store.EventRule) error {
		r.State, r.UpdatedAt = state, b.clock.Now()
		return tx.EventRules().PutRule(ctx, r)
	})
}

// DeleteRule deletes a rule that has no targets.
func (b *Bus) DeleteRule(ctx context.Context, p iam.Principal, name, bus string) error {
	err := b.changeRule(ctx, p, "events:DeleteRule", name, bus, func(tx store.Tx, r *store.EventRule) error {
		ts, err := tx.EventRules().Targets(ctx, p.Account, name)
		if err != nil {
			return err
		}
		if len(ts) > 0 {
			return validation("Rule can't be deleted since it has targets.")
		}
		return tx.EventRules().DeleteRule(ctx, p.Account, name)
	})
	if errs.KindOf(err) == errs.NotFound {
		return nil // as EventBridge: deleting a missing rule succeeds
	}
	return err
}

func (b *Bus) changeRule(ctx context.Context, p iam.Principal, action, name, bus string, fn func(store.Tx, *store.EventRule) error) error {
	if err := checkName("name", name); err != nil {
		return err
	}
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: action, Resource: b.ruleARN(p.Account, name)}); err != nil {
		return err
	}
	if err := checkBus(bus); err != nil {
		return err
	}
	return b.store.Update(ctx, func(tx store.Tx) error {
		r, err := b.getRule(ctx, tx, p.Account, name)
		if err != nil {
			return err
		}
		if err := fn(tx, r); err != nil {
			return err
		}
		return tx.EventRules().BumpGeneration(ctx)
	})
}

// Target sends a rule's events to an API destination.
type Target struct {
	ID, ARN          string
	Input, InputPath string
	InputTransformer *InputTransformer `json:",omitempty"`
	RetryPolicy      *RetryPolicy      `json:",omitempty"`
	HTTPParameters   *HTTPParameters   `json:",omitempty"`
}

// InputTransformer builds a target's payload from parts of the event.
type InputTransformer struct {
	InputPathsMap map[string]string
	InputTemplate string
}

// RetryPolicy bounds a target's retries.
type RetryPolicy struct {
	MaximumRetryAttempts     *int
	MaximumEventAgeInSeconds *int
}

// HTTPParameters adds headers and query parameters to a delivery.
type HTTPParameters struct {
	HeaderParameters      map[string]string
	QueryStringParameters map[string]string
}

// TargetFailure is one target PutTargets or RemoveTargets could not take.
type TargetFailure struct {
	TargetID, ErrorCode, ErrorMessage string
}

var targetIDRE = regexp.MustCompile(`^[.\-_A-Za-z0-9]{1,64}$`)

// PutTargets adds or replaces a rule's targets. Targets that are not
// valid are reported in the failures, the others are stored.
func (b *Bus) PutTargets(ctx context.Context, p iam.Principal, rule, bus string, targets []Target) ([]TargetFailure, error) {
	var failed []TargetFailure
	if len(targets) == 0 || len(targets) > 100 {
		return nil, validation("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 100")
	}
	err := b.changeRule(ctx, p, "events:PutTargets", rule, bus, func(tx store.Tx, r *store.EventRule) error {
		failed = nil
		existing, err := tx.EventRules().Targets(ctx, p.Account, rule)
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, t := range existing {
			have[t.ID] = true
		}
		for _, t := range targets {
			if msg := b.checkTarget(ctx, tx, p.Account, t); msg != "" {
				failed = append(failed, TargetFailure{TargetID: t.ID, ErrorCode: "ValidationException", ErrorMessage: msg})
				continue
			}
			if !have[t.ID] && len(have) >= MaxTargetsPerRule {
				failed = append(failed, TargetFailure{TargetID: t.ID, ErrorCode: "LimitExceededException",
					ErrorMessage: "The requested resource exceeds the maximum number allowed (5 targets per rule)."})
				continue
			}
			have[t.ID] = true
			cfg, _ := json.Marshal(t)
			if err := tx.EventRules().PutTarget(ctx, &store.EventTarget{Account: p.Account, Rule: rule, ID: t.ID, ARN: t.ARN, Config: cfg}); err != nil {
				return err
			}
		}
		return nil
	})
	return failed, err
}

// checkTarget returns why a target cannot be stored, or "".
func (b *Bus) checkTarget(ctx context.Context, tx store.Tx, account string, t Target) string {
	if !targetIDRE.MatchString(t.ID) {
		return "Target Id must be 1 to 64 letters, digits, '.', '-' or '_'."
	}
	set := 0
	for _, v := range []bool{t.Input != "", t.InputPath != "", t.InputTransformer != nil} {
		if v {
			set++
		}
	}
	if set > 1 {
		return "Only one of Input, InputPath, or InputTransformer must be provided."
	}
	if t.Input != "" && !json.Valid([]byte(t.Input)) {
		return "Input is not valid JSON."
	}
	if t.InputPath != "" {
		if _, err := parsePath(t.InputPath); err != nil {
			return "InputPath " + err.Error()
		}
	}
	if tr := t.InputTransformer; tr != nil {
		if tr.InputTemplate == "" {
			return "InputTransformer requires an InputTemplate."
		}
		for k, v := range tr.InputPathsMap {
			if _, err := parsePath(v); err != nil {
				return "InputPathsMap " + k + ": " + err.Error()
			}
		}
	}
	if rp := t.RetryPolicy; rp != nil {
		if n := rp.MaximumRetryAttempts; n != nil && (*n < 0 || *n > 185) {
			return "MaximumRetryAttempts must be between 0 and 185."
		}
		if n := rp.MaximumEventAgeInSeconds; n != nil && (*n < 60 || *n > 86400) {
			return "MaximumEventAgeInSeconds must be between 60 and 86400."
		}
	}
	if !strings.Contains(t.ARN, ":api-destination/") {
		return "Sigil delivers to API destinations only (arn:aws:events:REGION:ACCOUNT:api-destination/NAME/ID): create one with CreateConnection and CreateApiDestination."
	}
	if iam.AccountOf(t.ARN) != account {
		return "The API destination must be in the rule's account."
	}
	if _, err := tx.EventRules().GetDestination(ctx, t.ARN); err != nil {
		return "API destination " + t.ARN + " does not exist."
	}
	return ""
}

// ListTargets returns a rule's targets.
func (b *Bus) ListTargets(ctx context.Context, p iam.Principal, rule, bus string) ([]Target, error) {
	if err := checkName("rule", rule); err != nil {
		return nil, err
	}
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:ListTargetsByRule", Resource: b.ruleARN(p.Account, rule)}); err != nil {
		return nil, err
	}
	if err := checkBus(bus); err != nil {
		return nil, err
	}
	var ts []*store.EventTarget
	err := b.store.View(ctx, func(tx store.Tx) error {
		if _, err := b.getRule(ctx, tx, p.Account, rule); err != nil {
			return err
		}
		var err error
		ts, err = tx.EventRules().Targets(ctx, p.Account, rule)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]Target, 0, len(ts))
	for _, t := range ts {
		var x Target
		if err := json.Unmarshal(t.Config, &x); err != nil {
			return nil, errs.Wrap(err, "decode target")
		}
		out = append(out, x)
	}
	return out, nil
}

// RemoveTargets removes targets from a rule; IDs that are not there are
// reported as failures.
func (b *Bus) RemoveTargets(ctx context.Context, p iam.Principal, rule, bus string, ids []string) ([]TargetFailure, error) {
	var failed []TargetFailure
	err := b.changeRule(ctx, p, "events:RemoveTargets", rule, bus, func(tx store.Tx, r *store.EventRule) error {
		failed = nil
		for _, id := range ids {
			err := tx.EventRules().DeleteTarget(ctx, p.Account, rule, id)
			if errors.Is(err, store.ErrNotFound) {
				failed = append(failed, TargetFailure{TargetID: id, ErrorCode: "ResourceNotFoundException", ErrorMessage: "Target " + id + " does not exist."})
				continue
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return failed, err
}

// TestEventPattern reports whether a pattern matches an event.
func (b *Bus) TestEventPattern(ctx context.Context, p iam.Principal, doc, event string) (bool, error) {
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:TestEventPattern", Resource: "*"}); err != nil {
		return false, err
	}
	pat, err := CompilePattern(doc)
	if err != nil {
		return false, err
	}
	var env Envelope
	if err := json.Unmarshal([]byte(event), &env); err != nil || env.ID == "" || env.Source == "" || env.DetailType == "" ||
		env.Account == "" || env.Time == "" || env.Region == "" || env.Resources == nil {
		return false, validation("Parameter Event is not valid: it must be an event with id, account, source, time, region, resources and detail-type.")
	}
	ok, err := pat.Matches([]byte(event))
	if err != nil {
		return false, validation("Parameter Event is not valid JSON.")
	}
	return ok, nil
}

// PutEventsEntry is one custom event.
type PutEventsEntry struct {
	Source, DetailType, Detail, Bus string
	Resources                       []string
	Time                            time.Time
}

// PutEventsResult is the outcome of one entry.
type PutEventsResult struct {
	EventID, ErrorCode, ErrorMessage string
}

// PutEvents publishes custom events to the account's bus. Sources
// starting with "aws." are AWS's and refused, as on EventBridge.
func (b *Bus) PutEvents(ctx context.Context, p iam.Principal, entries []PutEventsEntry) ([]PutEventsResult, int, error) {
	if len(entries) == 0 || len(entries) > MaxPutEntries {
		return nil, 0, validation("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10")
	}
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:PutEvents", Resource: "arn:aws:events:" + b.region + ":" + p.Account + ":event-bus/default"}); err != nil {
		return nil, 0, err
	}
	results := make([]PutEventsResult, len(entries))
	failed := 0
	now := b.clock.Now()
	err := b.store.Update(ctx, func(tx store.Tx) error {
		failed = 0
		for i, e := range entries {
			msg := ""
			switch {
			case e.Source == "" || e.DetailType == "" || e.Detail == "":
				msg = "Parameters Source, DetailType and Detail are required."
			case strings.HasPrefix(e.Source, "aws."):
				msg = "Source " + e.Source + " is reserved for AWS services."
			case checkBus(e.Bus) != nil:
				msg = "Event bus " + e.Bus + " does not exist."
			case len(e.Detail)+len(e.DetailType)+len(e.Source) > MaxEntrySize:
				msg = "The entry is larger than 256 KiB."
			default:
				var d map[string]any
				if json.Unmarshal([]byte(e.Detail), &d) != nil {
					msg = "Detail is not a valid JSON object."
				}
			}
			if msg != "" {
				failed++
				results[i] = PutEventsResult{ErrorCode: "MalformedDetail", ErrorMessage: msg}
				if !strings.HasPrefix(msg, "Detail") {
					results[i].ErrorCode = "InvalidArgument"
				}
				continue
			}
			at := e.Time
			if at.IsZero() {
				at = now
			}
			id := uuid.NewString()
			if err := publish(ctx, tx, id, e.Source, e.DetailType, p.Account, b.region, at, e.Resources, json.RawMessage(e.Detail)); err != nil {
				return err
			}
			results[i] = PutEventsResult{EventID: id}
		}
		return nil
	})
	return results, failed, err
}
