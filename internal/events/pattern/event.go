package pattern

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrInvalidEvent is wrapped by the errors of Decode and Matches for input
// that is not a single JSON object.
var ErrInvalidEvent = errors.New("event is not a JSON object")

// Event is a decoded event, ready to be matched against any number of
// patterns. The zero Event is an empty object. An Event is never modified
// by matching and may be shared between goroutines.
type Event struct {
	// fields holds the event as encoding/json decodes it, except that
	// numbers are float64 values parsed from their JSON text (so that
	// numbers too large for encoding/json's float64 decoding still decode,
	// as ±Inf).
	fields map[string]any
}

// Decode parses a JSON event (an EventBridge envelope or any JSON object).
// Its error wraps ErrInvalidEvent.
func Decode(event []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Event{}, fmt.Errorf("%w: unexpected data after the top-level value", ErrInvalidEvent)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Event{}, ErrInvalidEvent
	}
	convertNumbers(m)
	return Event{fields: m}, nil
}

// convertNumbers replaces, in place, every json.Number under v with its
// float64 value. Numbers beyond float64's range become ±Inf, which equal no
// pattern number but still compare in numeric ranges.
func convertNumbers(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if n, ok := e.(json.Number); ok {
				v[k] = toFloat(n)
			} else {
				convertNumbers(e)
			}
		}
	case []any:
		for i, e := range v {
			if n, ok := e.(json.Number); ok {
				v[i] = toFloat(n)
			} else {
				convertNumbers(e)
			}
		}
	}
}

// toFloat parses a JSON number. The decoder has already checked its syntax,
// so the only possible error is a range error, for which ParseFloat returns
// the correctly signed infinity.
func toFloat(n json.Number) float64 {
	f, _ := strconv.ParseFloat(string(n), 64)
	return f
}
