package secrets

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// RotationRules is a secret's rotation schedule, as the API spells it.
type RotationRules struct {
	AutomaticallyAfterDays int64  `json:"AutomaticallyAfterDays,omitempty"`
	Duration               string `json:"Duration,omitempty"`
	ScheduleExpression     string `json:"ScheduleExpression,omitempty"`
}

// schedule computes rotation times from RotationRules.
type schedule struct {
	days   int           // AutomaticallyAfterDays
	every  time.Duration // rate(...)
	daily  bool          // rate(N days): windows start at midnight UTC
	cron   *cronExpr
	window time.Duration
}

var (
	rateRE     = regexp.MustCompile(`^rate\((\d+) (hour|hours|day|days)\)$`)
	cronRE     = regexp.MustCompile(`^cron\((.+)\)$`)
	durationRE = regexp.MustCompile(`^(\d{1,2})h$`)
)

func parseRules(r RotationRules) (*schedule, error) {
	sc := &schedule{}
	switch {
	case r.AutomaticallyAfterDays != 0 && r.ScheduleExpression != "":
		return nil, invalidParameter("You can't specify both AutomaticallyAfterDays and ScheduleExpression.")
	case r.AutomaticallyAfterDays != 0:
		if r.AutomaticallyAfterDays < 1 || r.AutomaticallyAfterDays > 1000 {
			return nil, validation("rotationRules.automaticallyAfterDays", r.AutomaticallyAfterDays, "Member must have value between 1 and 1000")
		}
		sc.days = int(r.AutomaticallyAfterDays)
	case r.ScheduleExpression != "":
		e := strings.TrimSpace(r.ScheduleExpression)
		if m := rateRE.FindStringSubmatch(e); m != nil {
			n, _ := strconv.Atoi(m[1])
			if strings.HasPrefix(m[2], "hour") {
				if n < 4 || n > 23 {
					return nil, invalidParameter("A rate expression in hours must be between 4 and 23 hours.")
				}
				sc.every = time.Duration(n) * time.Hour
			} else {
				if n < 1 || n > 1000 {
					return nil, invalidParameter("A rate expression in days must be between 1 and 1000 days.")
				}
				sc.every, sc.daily = time.Duration(n)*24*time.Hour, true
			}
		} else if m := cronRE.FindStringSubmatch(e); m != nil {
			c, err := parseCron(m[1])
			if err != nil {
				return nil, err
			}
			sc.cron = c
		} else {
			return nil, invalidParameter("The ScheduleExpression %q is not a rate() or cron() expression.", e)
		}
	default:
		return nil, invalidParameter("RotationRules must set AutomaticallyAfterDays or ScheduleExpression.")
	}
	if r.Duration != "" {
		m := durationRE.FindStringSubmatch(r.Duration)
		if m == nil {
			return nil, invalidParameter("The Duration %q must be a number of hours such as 3h.", r.Duration)
		}
		h, _ := strconv.Atoi(m[1])
		if h < 1 || h > 24 {
			return nil, invalidParameter("The Duration must be between 1h and 24h.")
		}
		sc.window = time.Duration(h) * time.Hour
		if sc.every > 0 && !sc.daily && sc.window > sc.every {
			return nil, invalidParameter("The rotation window (Duration) can't be longer than the rotation interval.")
		}
	}
	return sc, nil
}

// next returns the start of the first rotation window after last (the
// previous rotation, or when rotation was configured).
func (sc *schedule) next(last time.Time) time.Time {
	last = last.UTC()
	switch {
	case sc.days > 0:
		return last.AddDate(0, 0, sc.days)
	case sc.daily:
		d := day(last)
		return d.Add(sc.every)
	case sc.every > 0:
		return last.Add(sc.every)
	default:
		return sc.cron.next(last)
	}
}

// cronExpr is AWS's six-field cron: minutes hours day-of-month month
// day-of-week year, in UTC. Secrets Manager requires minutes 0 and year *.
type cronExpr struct {
	hours, dom, months, dow [64]bool
	domAny, dowAny          bool
	lastDOM                 bool // L in day-of-month
	lastDOW                 int  // nL in day-of-week (0: none), 1=SUN
	nthDOW                  [2]int
}

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

func cronErr(format string, a ...any) error {
	return invalidParameter("Invalid cron expression: "+format, a...)
}

func parseCron(s string) (*cronExpr, error) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return nil, cronErr("it must have six fields (minutes hours day-of-month month day-of-week year).")
	}
	if f[0] != "0" {
		return nil, cronErr("the minutes field must be 0.")
	}
	if f[5] != "*" {
		return nil, cronErr("the year field must be *.")
	}
	c := &cronExpr{}
	if err := field(f[1], 0, 23, nil, &c.hours); err != nil {
		return nil, err
	}
	if err := field(f[3], 1, 12, monthNames, &c.months); err != nil {
		return nil, err
	}
	switch {
	case f[2] == "?" && f[4] == "?":
		return nil, cronErr("day-of-month and day-of-week can't both be ?.")
	case f[2] != "?" && f[4] != "?":
		return nil, cronErr("one of day-of-month and day-of-week must be ?.")
	}
	if f[2] == "?" {
		c.domAny = true
	} else if f[2] == "L" {
		c.lastDOM = true
	} else if err := field(f[2], 1, 31, nil, &c.dom); err != nil {
		return nil, err
	}
	if f[4] == "?" {
		c.dowAny = true
	} else if strings.Contains(f[4], "#") {
		a, b, _ := strings.Cut(f[4], "#")
		d, err := dayValue(a)
		n, err2 := strconv.Atoi(b)
		if err != nil || err2 != nil || n < 1 || n > 5 {
			return nil, cronErr("bad day-of-week %q.", f[4])
		}
		c.nthDOW = [2]int{d, n}
	} else if strings.HasSuffix(f[4], "L") {
		d, err := dayValue(strings.TrimSuffix(f[4], "L"))
		if err != nil {
			return nil, cronErr("bad day-of-week %q.", f[4])
		}
		c.lastDOW = d
	} else if err := field(f[4], 1, 7, dayNames, &c.dow); err != nil {
		return nil, err
	}
	return c, nil
}

func dayValue(s string) (int, error) {
	if d, ok := dayNames[strings.ToUpper(s)]; ok {
		return d, nil
	}
	d, err := strconv.Atoi(s)
	if err != nil || d < 1 || d > 7 {
		return 0, cronErr("bad day-of-week %q.", s)
	}
	return d, nil
}

// field parses a comma list of values, ranges, * and /steps into set.
func field(s string, lo, hi int, names map[string]int, set *[64]bool) error {
	val := func(v string) (int, error) {
		if n, ok := names[strings.ToUpper(v)]; ok {
			return n, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, cronErr("value %q is out of range %d-%d.", v, lo, hi)
		}
		return n, nil
	}
	for _, part := range strings.Split(s, ",") {
		step := 1
		if a, b, ok := strings.Cut(part, "/"); ok {
			n, err := strconv.Atoi(b)
			if err != nil || n < 1 {
				return cronErr("bad step in %q.", part)
			}
			part, step = a, n
		}
		from, to := lo, hi
		switch {
		case part == "*":
		case strings.Contains(part, "-"):
			a, b, _ := strings.Cut(part, "-")
			var err error
			if from, err = val(a); err != nil {
				return err
			}
			if to, err = val(b); err != nil {
				return err
			}
			if to < from {
				return cronErr("range %q runs backwards.", part)
			}
		default:
			n, err := val(part)
			if err != nil {
				return err
			}
			from = n
			if step == 1 {
				to = n
			}
		}
		for v := from; v <= to; v += step {
			set[v] = true
		}
	}
	return nil
}

func (c *cronExpr) matchesDay(t time.Time) bool {
	if !c.months[int(t.Month())] {
		return false
	}
	lastDay := time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	dow := int(t.Weekday()) + 1
	switch {
	case !c.domAny && c.lastDOM:
		return t.Day() == lastDay
	case !c.domAny:
		return c.dom[t.Day()]
	case c.lastDOW != 0:
		return dow == c.lastDOW && t.Day()+7 > lastDay
	case c.nthDOW[0] != 0:
		return dow == c.nthDOW[0] && (t.Day()-1)/7+1 == c.nthDOW[1]
	default:
		return c.dow[dow]
	}
}

// next returns the first matching hour strictly after t (searching up to
// five years ahead).
func (c *cronExpr) next(t time.Time) time.Time {
	d := day(t)
	for i := 0; i < 5*366; i++ {
		if c.matchesDay(d) {
			for h := 0; h < 24; h++ {
				if c.hours[h] {
					at := d.Add(time.Duration(h) * time.Hour)
					if at.After(t) {
						return at
					}
				}
			}
		}
		d = d.AddDate(0, 0, 1)
	}
	return time.Time{}
}
