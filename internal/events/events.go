// Package events builds domain events in Amazon EventBridge's envelope and
// writes them to the transactional outbox, inside the transaction of the
// change they describe: an event is never lost and never describes
// something that did not happen. Delivery to rules and targets reads the
// outbox.
package events

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/sigilhq/sigil/internal/errs"
	"github.com/sigilhq/sigil/internal/store"
)

// Sources and detail types Sigil publishes, spelled as AWS spells them.
const (
	SourceACM = "aws.acm"
	SourcePCA = "aws.acm-pca"
	SourceKMS = "aws.kms"

	ACMApproachingExpiration = "ACM Certificate Approaching Expiration"
	ACMAvailable             = "ACM Certificate Available"
	ACMExpired               = "ACM Certificate Expired"
	ACMRenewalActionRequired = "ACM Certificate Renewal Action Required"

	// AWS Private CA's own events.
	PCACreation            = "ACM Private CA Creation"
	PCACertificateIssuance = "ACM Private CA Certificate Issuance"
	PCARevocation          = "ACM Private CA Certificate Revocation"
	PCACRLGeneration       = "ACM Private CA CRL Generation"
	// Sigil's own (AWS announces CA status changes only through
	// CloudTrail): detail {"previousStatus", "status"}.
	PCAStateChange = "ACM Private CA State Change"

	// KMS: AWS's rotation and deletion events, and Sigil's own key state
	// change (AWS announces it only through CloudTrail).
	KMSRotation    = "KMS CMK Rotation"
	KMSDeletion    = "KMS CMK Deletion"
	KMSStateChange = "KMS Key State Change"
)

// Envelope is an event as EventBridge delivers it.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType string          `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       string          `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// TimeFormat is how the envelope writes times (EventBridge: UTC, seconds).
const TimeFormat = "2006-01-02T15:04:05Z"

// Publish writes one event to the outbox within tx. The event gets a new,
// stable ID that consumers use to drop duplicates (delivery is at least
// once).
func Publish(ctx context.Context, tx store.Tx, source, detailType, account, region string, at time.Time,
	resources []string, detail any) error {
	return publish(ctx, tx, uuid.NewString(), source, detailType, account, region, at, resources, detail)
}

func publish(ctx context.Context, tx store.Tx, id, source, detailType, account, region string, at time.Time,
	resources []string, detail any) error {
	d, err := json.Marshal(detail)
	if err != nil {
		return errs.Wrap(err, "encode event detail")
	}
	if resources == nil {
		resources = []string{}
	}
	env := Envelope{
		Version: "0", ID: id, DetailType: detailType, Source: source, Account: account,
		Time: at.UTC().Format(TimeFormat), Region: region, Resources: resources, Detail: d,
	}
	body, err := json.Marshal(env)
	if err != nil {
		return errs.Wrap(err, "encode event")
	}
	return tx.Events().Append(ctx, &store.Event{
		ID: env.ID, Account: account, Source: source, DetailType: detailType, Time: at.UTC(), Body: body,
	})
}

// Decode parses a stored event.
func Decode(e *store.Event) (*Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(e.Body, &env); err != nil {
		return nil, errs.Wrap(err, "decode event")
	}
	return &env, nil
}
