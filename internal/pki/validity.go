package pki

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ValidityType says how a Validity value is read.
type ValidityType string

// Validity types.
const (
	ValidityEndDate  ValidityType = "END_DATE" // YYMMDDHHMMSS or YYYYMMDDHHMMSS, UTC
	ValidityAbsolute ValidityType = "ABSOLUTE" // seconds since the Unix epoch
	ValidityDays     ValidityType = "DAYS"
	ValidityMonths   ValidityType = "MONTHS"
	ValidityYears    ValidityType = "YEARS"
)

// Validity is a point in time or a duration from the time of issuance.
type Validity struct {
	Type  ValidityType `json:"Type"`
	Value int64        `json:"Value"`
}

// MaxNotAfter is the latest time an X.509 certificate can express.
var MaxNotAfter = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// maxRelative bounds DAYS/MONTHS/YEARS so that arithmetic cannot overflow.
const maxRelativeYears = 8000

// End returns the time the validity ends when issued at now.
func (v Validity) End(now time.Time) (time.Time, error) {
	if v.Value < 1 {
		return time.Time{}, errors.New("validity value must be at least 1")
	}
	var t time.Time
	switch v.Type {
	case ValidityDays:
		if v.Value > maxRelativeYears*366 {
			return time.Time{}, errors.New("validity in days is too large")
		}
		t = now.AddDate(0, 0, int(v.Value))
	case ValidityMonths:
		if v.Value > maxRelativeYears*12 {
			return time.Time{}, errors.New("validity in months is too large")
		}
		t = now.AddDate(0, int(v.Value), 0)
	case ValidityYears:
		if v.Value > maxRelativeYears {
			return time.Time{}, errors.New("validity in years is too large")
		}
		t = now.AddDate(int(v.Value), 0, 0)
	case ValidityAbsolute:
		if v.Value > MaxNotAfter.Unix() {
			return time.Time{}, errors.New("absolute validity is after 9999-12-31")
		}
		t = time.Unix(v.Value, 0)
	case ValidityEndDate:
		var err error
		if t, err = parseEndDate(v.Value); err != nil {
			return time.Time{}, err
		}
	default:
		return time.Time{}, fmt.Errorf("unknown validity type %q (use END_DATE, ABSOLUTE, DAYS, MONTHS or YEARS)", v.Type)
	}
	t = t.UTC().Truncate(time.Second)
	if t.After(MaxNotAfter) {
		return time.Time{}, errors.New("validity ends after 9999-12-31")
	}
	return t, nil
}

// Start returns the explicit start of validity. Only ABSOLUTE is accepted.
func (v Validity) Start() (time.Time, error) {
	if v.Type != ValidityAbsolute {
		return time.Time{}, fmt.Errorf("ValidityNotBefore must be of type ABSOLUTE, not %q", v.Type)
	}
	if v.Value < 0 || v.Value > MaxNotAfter.Unix() {
		return time.Time{}, errors.New("ValidityNotBefore is out of range")
	}
	return time.Unix(v.Value, 0).UTC(), nil
}

// parseEndDate reads YYMMDDHHMMSS (UTCTime rules: YY >= 50 is 19YY) or
// YYYYMMDDHHMMSS. The value arrives as a number, so leading zeros are lost;
// values of up to 12 digits are read as the short form.
func parseEndDate(v int64) (time.Time, error) {
	s := strconv.FormatInt(v, 10)
	var layout string
	switch {
	case len(s) <= 12:
		s = fmt.Sprintf("%012d", v)
		yy, _ := strconv.Atoi(s[:2])
		century := "20"
		if yy >= 50 {
			century = "19"
		}
		s = century + s
		layout = "20060102150405"
	case len(s) == 14:
		layout = "20060102150405"
	default:
		return time.Time{}, fmt.Errorf("END_DATE %d must be YYMMDDHHMMSS or YYYYMMDDHHMMSS", v)
	}
	t, err := time.ParseInLocation(layout, s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("END_DATE %d is not a valid date and time", v)
	}
	return t, nil
}
