package schedule

import (
	"strconv"
	"strings"
	"time"

	"github.com/hearth-community/hearth/internal/fault"
)

// Rule is a parsed RFC 5545 recurrence: a DTSTART (a wall time in a zone)
// and one RRULE. The subset is what Owncast's admin writes: FREQ
// DAILY/WEEKLY/MONTHLY, INTERVAL, COUNT, UNTIL and, for weekly rules, BYDAY.
type Rule struct {
	Start    time.Time // DTSTART in Zone
	Zone     *time.Location
	Freq     string
	Interval int
	Count    int       // 0: unbounded
	Until    time.Time // zero: unbounded
	ByDay    []time.Weekday
}

var weekdays = map[string]time.Weekday{"SU": time.Sunday, "MO": time.Monday, "TU": time.Tuesday,
	"WE": time.Wednesday, "TH": time.Thursday, "FR": time.Friday, "SA": time.Saturday}

// ParseRule reads "DTSTART[;TZID=Zone]:YYYYMMDDTHHMMSS[Z]\nRRULE:…".
func ParseRule(text string) (*Rule, error) {
	r := &Rule{Interval: 1}
	var haveStart, haveRule bool
	for _, line := range strings.FieldsFunc(text, func(c rune) bool { return c == '\n' || c == '\r' }) {
		line = strings.TrimSpace(line)
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fault.Newf(fault.Invalid, "recurrence line %q has no value", line)
		}
		switch {
		case strings.HasPrefix(strings.ToUpper(name), "DTSTART"):
			zone := time.UTC
			for _, p := range strings.Split(name, ";")[1:] {
				if k, v, _ := strings.Cut(p, "="); strings.EqualFold(k, "TZID") {
					z, err := LoadZone(v)
					if err != nil {
						return nil, err
					}
					zone = z
				}
			}
			layout := "20060102T150405"
			if strings.HasSuffix(value, "Z") {
				value, zone = strings.TrimSuffix(value, "Z"), time.UTC
			}
			t, err := time.ParseInLocation(layout, value, zone)
			if err != nil {
				return nil, fault.New(fault.Invalid, "DTSTART must be YYYYMMDDTHHMMSS")
			}
			r.Start, r.Zone, haveStart = t, zone, true
		case strings.EqualFold(name, "RRULE"):
			if err := r.parseRRule(value); err != nil {
				return nil, err
			}
			haveRule = true
		default:
			return nil, fault.Newf(fault.Invalid, "unsupported recurrence line %q", name)
		}
	}
	if !haveStart {
		return nil, fault.New(fault.Invalid, "recurrence needs a DTSTART")
	}
	if !haveRule {
		return nil, fault.New(fault.Invalid, "recurrence needs an RRULE")
	}
	return r, nil
}

func (r *Rule) parseRRule(v string) error {
	for _, part := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(part, "=")
		switch strings.ToUpper(k) {
		case "FREQ":
			switch f := strings.ToUpper(val); f {
			case "DAILY", "WEEKLY", "MONTHLY":
				r.Freq = f
			default:
				return fault.Newf(fault.Invalid, "unsupported FREQ %q (DAILY, WEEKLY or MONTHLY)", val)
			}
		case "INTERVAL":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 366 {
				return fault.New(fault.Invalid, "INTERVAL must be 1–366")
			}
			r.Interval = n
		case "COUNT":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return fault.New(fault.Invalid, "COUNT must be a positive number")
			}
			r.Count = n
		case "UNTIL":
			t, err := time.Parse("20060102T150405Z", val)
			if err != nil {
				if t, err = time.Parse("20060102", val); err != nil {
					return fault.New(fault.Invalid, "UNTIL must be YYYYMMDDTHHMMSSZ")
				}
			}
			r.Until = t
		case "BYDAY":
			for _, d := range strings.Split(val, ",") {
				wd, ok := weekdays[strings.ToUpper(d)]
				if !ok {
					return fault.Newf(fault.Invalid, "unsupported BYDAY %q", d)
				}
				r.ByDay = append(r.ByDay, wd)
			}
		case "WKST":
		default:
			return fault.Newf(fault.Invalid, "unsupported RRULE part %q", k)
		}
	}
	if r.Freq == "" {
		return fault.New(fault.Invalid, "RRULE needs a FREQ")
	}
	return nil
}

// Between returns the occurrence starts in [from, to), at most max, in
// order. Wall times are kept across daylight-saving changes (19:00 in the
// rule's zone stays 19:00).
func (r *Rule) Between(from, to time.Time, max int) []time.Time {
	var out []time.Time
	n := 0 // occurrences counted from DTSTART, for COUNT
	y, mo, d := r.Start.Date()
	hh, mm, ss := r.Start.Clock()
	at := func(y int, mo time.Month, d int) time.Time { return time.Date(y, mo, d, hh, mm, ss, 0, r.Zone) }
	emit := func(t time.Time) bool { // false: stop
		if t.Before(r.Start) {
			return true
		}
		if !r.Until.IsZero() && t.After(r.Until) {
			return false
		}
		n++
		if r.Count > 0 && n > r.Count {
			return false
		}
		if !t.Before(to) {
			return false
		}
		if !t.Before(from) {
			out = append(out, t)
		}
		return len(out) < max
	}
	for i := 0; i < 100000; i++ {
		switch r.Freq {
		case "DAILY":
			if !emit(at(y, mo, d+i*r.Interval)) {
				return out
			}
		case "MONTHLY":
			t := at(y, mo+time.Month(i*r.Interval), 1)
			if d > daysIn(t) { // RFC 5545: a month without the day is skipped
				continue
			}
			if !emit(at(t.Year(), t.Month(), d)) {
				return out
			}
		case "WEEKLY":
			days := r.ByDay
			if len(days) == 0 {
				days = []time.Weekday{r.Start.Weekday()}
			}
			weekStart := at(y, mo, d-int(r.Start.Weekday())+i*7*r.Interval)
			for wd := time.Sunday; wd <= time.Saturday; wd++ {
				for _, want := range days {
					if want == wd {
						if !emit(at(weekStart.Year(), weekStart.Month(), weekStart.Day()+int(wd))) {
							return out
						}
					}
				}
			}
		}
	}
	return out
}

func daysIn(t time.Time) int { return time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day() }

// LoadZone loads an IANA zone name, refusing unknown ones and "Local".
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 {
		return nil, fault.Newf(fault.Invalid, "unknown timezone %q", name)
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, fault.Newf(fault.Invalid, "unknown timezone %q", name)
	}
	return z, nil
}
