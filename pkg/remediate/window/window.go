// Package window computes a site's maintenance windows: when reboots may
// run, in the site's time zone. It is a leaf so that fleetd's config can
// check a window with the same rules remediation applies.
package window

import (
	"regexp"
	"strings"
	"time"
)

// Window is when reboots may run, in the site's time zone.
// The zero value means "no window": in-window reboots are refused.
type Window struct {
	Weekdays []string // sun..sat or sunday..saturday; one or several
	Start    string   // "HH:MM", 24-hour, local time
	Duration time.Duration
}

var hhmmRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

// ValidStart reports whether s is a window start, "HH:MM" (24-hour).
func ValidStart(s string) bool { return hhmmRE.MatchString(s) }

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// ParseWeekday reads a weekday name: sun..sat or sunday..saturday, any case.
func ParseWeekday(s string) (time.Weekday, bool) {
	d, ok := weekdayNames[strings.ToLower(strings.TrimSpace(s))]
	return d, ok
}

// IsSet reports whether there is a window at all.
func (w Window) IsSet() bool { return len(w.Weekdays) > 0 && w.Duration > 0 }

// Next returns the first window, in loc, that has not ended at `after`: when
// `after` is inside a window, that window is returned (start <= after < end).
// Wall-clock times are used, so a 02:00 window stays at 02:00 across DST
// changes (on a spring-forward day time.Date normalises a missing 02:30 to 03:30).
// ok is false when the window is unset or invalid.
func (w Window) Next(after time.Time, loc *time.Location) (start, end time.Time, ok bool) {
	if !w.IsSet() {
		return time.Time{}, time.Time{}, false
	}
	if loc == nil {
		loc = time.UTC
	}
	m := hhmmRE.FindStringSubmatch(w.Start)
	if m == nil {
		return time.Time{}, time.Time{}, false
	}
	hh := int(m[1][0]-'0')*10 + int(m[1][1]-'0')
	mm := int(m[2][0]-'0')*10 + int(m[2][1]-'0')
	days := map[time.Weekday]bool{}
	for _, d := range w.Weekdays {
		wd, ok := ParseWeekday(d)
		if !ok {
			return time.Time{}, time.Time{}, false
		}
		days[wd] = true
	}
	local := after.In(loc)
	// Start one day back: a window that began yesterday may still be open.
	for i := -1; i <= 7; i++ {
		day := time.Date(local.Year(), local.Month(), local.Day()+i, hh, mm, 0, 0, loc)
		if !days[day.Weekday()] {
			continue
		}
		end := day.Add(w.Duration)
		if end.After(after) {
			return day, end, true
		}
	}
	return time.Time{}, time.Time{}, false
}
