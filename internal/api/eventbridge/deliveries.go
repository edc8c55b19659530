package eventbridge

import (
	"context"

	"github.com/sigilhq/sigil/internal/api/awsjson"
	"github.com/sigilhq/sigil/internal/events"
)

// NativeTargetPrefix is the X-Amz-Target prefix of Sigil's own events API
// (signing name "sigil"), behind `sigil events`.
const NativeTargetPrefix = "SigilEvents"

// NativeService returns Sigil's own events operations: the delivery log.
func NativeService(bus *events.Bus) *awsjson.Service {
	h := handlers{bus}
	return &awsjson.Service{
		TargetPrefix: NativeTargetPrefix,
		SigningName:  "sigil",
		Errors:       Errors,
		Operations: map[string]awsjson.Handler{
			"ListDeliveries":    awsjson.Op(h.listDeliveries),
			"RedriveDeliveries": awsjson.Op(h.redriveDeliveries),
		},
	}
}

// ListDeliveriesInput selects deliveries.
type ListDeliveriesInput struct {
	Status string `json:"Status,omitempty"`
	Limit  int    `json:"Limit,omitempty"`
}

// Delivery is one entry of the delivery log.
type Delivery struct {
	EventId        string        `json:"EventId"`
	RuleArn        string        `json:"RuleArn"`
	TargetId       string        `json:"TargetId"`
	TargetArn      string        `json:"TargetArn"`
	Status         string        `json:"Status"`
	Attempts       int           `json:"Attempts"`
	LastStatusCode int           `json:"LastStatusCode,omitempty"`
	LastError      string        `json:"LastError,omitempty"`
	CreatedAt      *awsjson.Time `json:"CreatedAt,omitempty"`
	DeliveredAt    *awsjson.Time `json:"DeliveredAt,omitempty"`
	NextAttemptAt  *awsjson.Time `json:"NextAttemptAt,omitempty"`
}

// ListDeliveriesOutput is a page of the delivery log, newest first.
type ListDeliveriesOutput struct {
	Deliveries []Delivery `json:"Deliveries"`
}

func (h handlers) listDeliveries(ctx context.Context, c *awsjson.Call, in *ListDeliveriesInput) (*ListDeliveriesOutput, error) {
	ds, err := h.bus.ListDeliveries(ctx, c.Principal, in.Status, in.Limit)
	if err != nil {
		return nil, err
	}
	out := &ListDeliveriesOutput{Deliveries: []Delivery{}}
	for _, d := range ds {
		out.Deliveries = append(out.Deliveries, Delivery{EventId: d.EventID, RuleArn: d.RuleARN, TargetId: d.TargetID, TargetArn: d.TargetARN,
			Status: d.Status, Attempts: d.Attempts, LastStatusCode: d.LastStatus, LastError: d.LastError, CreatedAt: awsjson.TimePtr(d.CreatedAt),
			DeliveredAt: awsjson.TimePtr(d.DeliveredAt), NextAttemptAt: awsjson.TimePtr(d.NextAttemptAt)})
	}
	return out, nil
}

// RedriveInput selects the dead-lettered deliveries to send again.
type RedriveInput struct {
	EventId string `json:"EventId,omitempty"` // "" for every FAILED delivery
}

// RedriveOutput says how many deliveries are pending again.
type RedriveOutput struct {
	Redriven int `json:"Redriven"`
}

func (h handlers) redriveDeliveries(ctx context.Context, c *awsjson.Call, in *RedriveInput) (*RedriveOutput, error) {
	n, err := h.bus.RedriveDeliveries(ctx, c.Principal, in.EventId)
	if err != nil {
		return nil, err
	}
	return &RedriveOutput{Redriven: n}, nil
}
