// Package webhook signs and sends Sigil's outgoing HTTP calls — event
// deliveries to API destinations and rotation-function steps — and lets
// receivers verify them: each carries a timestamp and an HMAC-SHA256 of
// the timestamp and the body, keyed by a secret the receiver knows.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sigilhq/sigil/internal/clock"
	"github.com/sigilhq/sigil/internal/events"
)

// Headers of a signed call.
const (
	HeaderTimestamp = "X-Sigil-Timestamp"
	HeaderSignature = "X-Sigil-Signature"
	HeaderEventID   = "X-Sigil-Event-Id"
)

// Sign returns the signature header value of a call: "v1=" and the hex
// HMAC-SHA256, keyed by secret, of the timestamp, a dot and the body.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a received call: its signature, and that its timestamp is
// within tolerance of now (so a captured call cannot be replayed later).
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("missing or malformed %s", HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("timestamp %s is outside the %s tolerance", ts, tolerance)
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return fmt.Errorf("bad signature")
	}
	return nil
}

// Sender delivers events to API destinations over HTTP(S).
type Sender struct {
	client *http.Client
	clock  clock.Clock
}

var _ events.Sender = (*Sender)(nil)

// NewSender returns a sender; timeout bounds each delivery (EventBridge
// gives an API destination 5 s).
func NewSender(clk clock.Clock, timeout time.Duration) *Sender {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}, MaxIdleConnsPerHost: 4}
	return &Sender{clock: clk, client: &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Send makes one delivery and returns the response status.
func (s *Sender) Send(ctx context.Context, r events.Request) (int, error) {
	u, err := url.Parse(r.Endpoint)
	if err != nil {
		return 0, err
	}
	if len(r.Query) > 0 {
		q := u.Query()
		for k, v := range r.Query {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	var body io.Reader
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), body)
	if err != nil {
		return 0, err
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	ts := strconv.FormatInt(s.clock.Now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "sigil-events/1")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(r.SigningKey, ts, r.Body))
	req.Header.Set(HeaderEventID, r.EventID)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("deliver to %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}
