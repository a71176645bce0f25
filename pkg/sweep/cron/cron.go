// Package cron reads the 5-field cron expressions of fleetd's sweep
// schedules (minute hour day-of-month month day-of-week) in an IANA time
// zone. It is a leaf package so that config validation and the scheduler
// parse expressions with the same code.
package cron

import (
	"errors"
	"fmt"
	"strings"
	"time"

	robfig "github.com/robfig/cron/v3"
)

// parser accepts exactly the five standard fields: no seconds, no
// descriptors (@daily) and no CRON_TZ= prefix, because the time zone is a
// separate config key and two ways of saying it would disagree.
var parser = robfig.NewParser(robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow)

// Schedule is a parsed cron expression in its time zone. It implements
// river.PeriodicSchedule.
type Schedule struct {
	expr string
	loc  *time.Location
	spec robfig.Schedule
}

// Parse reads expr ("0 3 * * *") in the named zone ("" means UTC).
func Parse(expr, timezone string) (*Schedule, error) {
	fields := strings.Fields(expr)
	if len(fields) == 0 {
		return nil, errors.New("required (5 fields: minute hour day-of-month month day-of-week)")
	}
	if len(fields) != 5 {
		return nil, fmt.Errorf("want 5 fields (minute hour day-of-month month day-of-week), got %d in %q", len(fields), expr)
	}
	if strings.Contains(expr, "=") {
		return nil, fmt.Errorf("%q: give the time zone in the schedule's timezone key, not in the expression", expr)
	}
	loc := time.UTC
	if timezone != "" {
		var err error
		if loc, err = time.LoadLocation(timezone); err != nil {
			return nil, fmt.Errorf("unknown time zone %q", timezone)
		}
	}
	spec, err := parser.Parse(strings.Join(fields, " "))
	if err != nil {
		return nil, fmt.Errorf("%q: %v", expr, err)
	}
	if ss, ok := spec.(*robfig.SpecSchedule); ok {
		ss.Location = loc
	}
	s := &Schedule{expr: strings.Join(fields, " "), loc: loc, spec: spec}
	// An expression that never fires ("0 0 30 2 *") is a mistake, not a
	// schedule: robfig answers the zero time after searching five years.
	if s.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("%q never fires", expr)
	}
	return s, nil
}

// String returns the expression as parsed (fields separated by one space).
func (s *Schedule) String() string { return s.expr }

// Location is the zone the expression is read in.
func (s *Schedule) Location() *time.Location { return s.loc }

// Next returns the first time strictly after t at which the schedule fires,
// in t's location; the zero time if it never fires again.
func (s *Schedule) Next(t time.Time) time.Time {
	n := s.spec.Next(t)
	if n.IsZero() {
		return n
	}
	return n.In(t.Location())
}

// Prev returns the latest time at or before t at which the schedule fires,
// or the zero time if it did not fire in the year before t. The scheduler
// uses it to name the slot a run belongs to and to find a missed slot.
func (s *Schedule) Prev(t time.Time) time.Time {
	t = t.Truncate(time.Second)
	// Widen the look-back window until it holds a firing time, then walk
	// forward to the last one not after t. Windows grow by ×24 so that an
	// every-minute schedule costs a few steps and a yearly one a few more.
	for _, back := range []time.Duration{time.Hour, 24 * time.Hour, 31 * 24 * time.Hour, 367 * 24 * time.Hour} {
		cur := s.Next(t.Add(-back))
		if cur.IsZero() || cur.After(t) {
			continue
		}
		for {
			n := s.Next(cur)
			if n.IsZero() || n.After(t) {
				return cur
			}
			cur = n
		}
	}
	return time.Time{}
}
