package config

import (
	"strings"
	"time"
)

var weekdayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

func parseWeekday(s string) (time.Weekday, bool) {
	d, ok := weekdayNames[strings.ToLower(strings.TrimSpace(s))]
	return d, ok
}

// IsSet reports whether the site has a maintenance window at all.
func (w MaintenanceWindow) IsSet() bool { return len(w.Weekdays) > 0 && w.Duration > 0 }

// Next returns the first window, in loc, that has not ended at `after`: when
// `after` is inside a window, that window is returned (start <= after < end).
// Wall-clock times are used, so a 02:00 window stays at 02:00 across DST
// changes (on a spring-forward day time.Date normalises a missing 02:30 to 03:30).
// ok is false when the window is unset or invalid.
func (w MaintenanceWindow) Next(after time.Time, loc *time.Location) (start, end time.Time, ok bool) {
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
		wd, ok := parseWeekday(d)
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
