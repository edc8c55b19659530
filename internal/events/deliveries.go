package events

import (
	"context"
	"time"

	"github.com/sigilhq/sigil/internal/iam"
	"github.com/sigilhq/sigil/internal/store"
)

// Delivery is one event on its way to one target, as the delivery log
// shows it (never its payload, which may carry anything the event did).
type Delivery struct {
	EventID, RuleARN, TargetID, TargetARN, Status string
	Attempts, LastStatus                          int
	LastError                                     string
	CreatedAt, DeliveredAt, NextAttemptAt         time.Time
}

// MaxDeliveryPage bounds one page of the delivery log.
const MaxDeliveryPage = 1000

// ListDeliveries returns the account's most recent deliveries, newest
// first, optionally of one status (PENDING, DELIVERED, FAILED). The action
// is Sigil's own, events:ListDeliveries.
func (b *Bus) ListDeliveries(ctx context.Context, p iam.Principal, status string, limit int) ([]*Delivery, error) {
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:ListDeliveries", Resource: "*"}); err != nil {
		return nil, err
	}
	switch status {
	case "", DeliveryPending, DeliveryDelivered, DeliveryFailed:
	default:
		return nil, validation("Status must be PENDING, DELIVERED or FAILED, not %q.", status)
	}
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > MaxDeliveryPage {
		return nil, validation("Limit must be between 1 and %d.", MaxDeliveryPage)
	}
	var rows []*store.EventDelivery
	err := b.store.View(ctx, func(tx store.Tx) (err error) {
		rows, err = tx.EventRules().ListDeliveries(ctx, p.Account, status, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*Delivery, len(rows))
	for i, r := range rows {
		d := &Delivery{EventID: r.EventID, RuleARN: r.RuleARN, TargetID: r.TargetID, TargetARN: r.TargetARN, Status: r.Status,
			Attempts: r.Attempts, LastStatus: r.LastStatus, LastError: r.LastError, CreatedAt: r.CreatedAt, DeliveredAt: r.DeliveredAt}
		if r.Status == DeliveryPending {
			d.NextAttemptAt = r.NextAt
		}
		out[i] = d
	}
	return out, nil
}

// RedriveDeliveries sends the account's dead-lettered deliveries again —
// of one event, or every FAILED one when eventID is "" — with a fresh
// retry budget (the target's attempts, and 24 hours). It returns how many.
func (b *Bus) RedriveDeliveries(ctx context.Context, p iam.Principal, eventID string) (int, error) {
	if err := b.authz.Authorize(ctx, p, iam.Request{Action: "events:RedriveDeliveries", Resource: "*"}); err != nil {
		return 0, err
	}
	now := b.clock.Now()
	var n int
	err := b.store.Update(ctx, func(tx store.Tx) (err error) {
		n, err = tx.EventRules().Redrive(ctx, p.Account, eventID, now, now.Add(DefaultMaxAge))
		return err
	})
	if err == nil && n == 0 && eventID != "" {
		return 0, notFound("Event %s has no FAILED delivery in this account.", eventID)
	}
	return n, err
}
