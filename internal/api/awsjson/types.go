package awsjson

import (
	"strconv"
	"time"

	"github.com/sigilhq/sigil/internal/errs"
)

// Time is a timestamp on the wire: epoch seconds as a JSON number, with
// millisecond precision (the awsJson1.1 default timestamp format).
type Time struct{ time.Time }

// MarshalJSON encodes epoch seconds.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', -1, 64)), nil
}

// UnmarshalJSON decodes epoch seconds (integer or fractional).
func (t *Time) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return &timeError{string(b)}
	}
	sec := int64(f)
	t.Time = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC().Truncate(time.Millisecond)
	return nil
}

type timeError struct{ v string }

func (e *timeError) Error() string { return "expected a timestamp as epoch seconds, got " + e.v }

// TimePtr returns nil for the zero time, so that omitempty drops it.
func TimePtr(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	return &Time{t}
}

// Required is the validation error AWS's JSON services answer for a
// missing required member.
func Required(field string) error {
	return errs.New(errs.Invalid, "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
}
