package validation

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CronSchedule is a parsed standard 5-field cron expression (minute, hour,
// day of month, month, day of week), or a fixed "@every" interval. It is
// immutable and safe for concurrent use.
type CronSchedule struct {
	minute, hour, dom, month, dow uint64
	// domStar/dowStar remember a "*" field: cron matches dom OR dow when
	// both are restricted, but only the restricted one otherwise.
	domStar, dowStar bool
	every            time.Duration
}

type cronField struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	cronMinute = cronField{name: "minute", min: 0, max: 59}
	cronHour   = cronField{name: "hour", min: 0, max: 23}
	cronDom    = cronField{name: "day of month", min: 1, max: 31}
	cronMonth  = cronField{name: "month", min: 1, max: 12, names: map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}}
	cronDow = cronField{name: "day of week", min: 0, max: 6, names: map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}}
	cronDescriptors = map[string]string{
		"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
		"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
	}
)

// ParseCronSchedule parses a CronJob schedule: five space-separated fields
// supporting "*", "?", lists, ranges, steps and month/weekday names, or one
// of the descriptors @yearly, @annually, @monthly, @weekly, @daily,
// @midnight, @hourly and "@every <duration>".
func ParseCronSchedule(spec string) (*CronSchedule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty spec string")
	}
	if strings.HasPrefix(spec, "@every ") {
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(spec, "@every ")))
		if err != nil {
			return nil, fmt.Errorf("failed to parse duration %s: %w", spec, err)
		}
		if d < time.Second {
			return nil, fmt.Errorf("@every duration must be at least 1 second, got %s", d)
		}
		return &CronSchedule{every: d.Truncate(time.Second)}, nil
	}
	if strings.HasPrefix(spec, "@") {
		expanded, ok := cronDescriptors[strings.ToLower(spec)]
		if !ok {
			return nil, fmt.Errorf("unrecognized descriptor: %s", spec)
		}
		spec = expanded
	}
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %s", len(fields), fields)
	}
	s := &CronSchedule{}
	var err error
	parsers := []struct {
		dst  *uint64
		f    cronField
		text string
	}{{&s.minute, cronMinute, fields[0]}, {&s.hour, cronHour, fields[1]}, {&s.dom, cronDom, fields[2]}, {&s.month, cronMonth, fields[3]}, {&s.dow, cronDow, fields[4]}}
	for _, p := range parsers {
		if *p.dst, err = parseCronField(p.text, p.f); err != nil {
			return nil, err
		}
	}
	s.domStar = fields[2] == "*" || fields[2] == "?"
	s.dowStar = fields[4] == "*" || fields[4] == "?"
	return s, nil
}

// parseCronField turns one comma-separated field into a bit set.
func parseCronField(text string, f cronField) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(text, ",") {
		b, err := parseCronRange(part, f)
		if err != nil {
			return 0, err
		}
		bits |= b
	}
	return bits, nil
}

// parseCronRange handles "*", "N", "N-M" and any of those with "/step".
func parseCronRange(expr string, f cronField) (uint64, error) {
	rangeText, stepText, hasStep := strings.Cut(expr, "/")
	lo, hi := f.min, f.max
	switch {
	case rangeText == "*" || rangeText == "?":
	default:
		loText, hiText, isRange := strings.Cut(rangeText, "-")
		var err error
		if lo, err = parseCronValue(loText, f); err != nil {
			return 0, err
		}
		hi = lo
		if isRange {
			if hi, err = parseCronValue(hiText, f); err != nil {
				return 0, err
			}
		} else if hasStep {
			// "N/step" means from N to the end of the range.
			hi = f.max
		}
	}
	step := 1
	if hasStep {
		var err error
		if step, err = strconv.Atoi(stepText); err != nil || step <= 0 {
			return 0, fmt.Errorf("invalid step %q in %s field %q", stepText, f.name, expr)
		}
	}
	if lo > hi {
		return 0, fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", lo, hi, expr)
	}
	var bits uint64
	for v := lo; v <= hi; v += step {
		bits |= 1 << uint(v)
	}
	return bits, nil
}

func parseCronValue(text string, f cronField) (int, error) {
	if v, ok := f.names[strings.ToLower(text)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(text)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %w", text, err)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("%s value (%d) out of range [%d, %d]", f.name, v, f.min, f.max)
	}
	return v, nil
}

// Next returns the first activation strictly after t, in t's location, or
// the zero time if none exists within five years (e.g. "0 0 30 2 *").
func (s *CronSchedule) Next(t time.Time) time.Time {
	if s.every > 0 {
		return t.Add(s.every - time.Duration(t.Nanosecond())).Truncate(time.Second)
	}
	t = t.Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		switch {
		case s.month&(1<<uint(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, t.Location())
		case !s.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
		case s.hour&(1<<uint(t.Hour())) == 0:
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, t.Location())
		case s.minute&(1<<uint(t.Minute())) == 0:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}

func (s *CronSchedule) dayMatches(t time.Time) bool {
	domMatch := s.dom&(1<<uint(t.Day())) != 0
	dowMatch := s.dow&(1<<uint(t.Weekday())) != 0
	if s.domStar || s.dowStar {
		return domMatch && dowMatch
	}
	return domMatch || dowMatch
}
