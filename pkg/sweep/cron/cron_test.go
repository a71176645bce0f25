package cron_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetd/fleetd/pkg/sweep/cron"
)

func mustTime(t *testing.T, loc, s string) time.Time {
	t.Helper()
	l, err := time.LoadLocation(loc)
	require.NoError(t, err)
	v, err := time.ParseInLocation("2006-01-02 15:04:05", s, l)
	require.NoError(t, err)
	return v
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ expr, tz, want string }{
		"empty":          {"", "", "required"},
		"six fields":     {"0 0 3 * * *", "", "want 5 fields"},
		"descriptor":     {"@daily", "", "want 5 fields"},
		"out of range":   {"61 3 * * *", "", "61"},
		"bad zone":       {"0 3 * * *", "Mars/Olympus", "unknown time zone"},
		"never fires":    {"0 0 30 2 *", "", "never fires"},
		"garbage":        {"a b c d e", "", "a b c d e"},
		"tz in the expr": {"CRON_TZ=UTC 0 3 * *", "", "timezone key"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := cron.Parse(tc.expr, tc.tz)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNextAndPrev(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		expr, tz  string
		at        string // in tz
		next      string // in tz
		prev      string // in tz; "" = zero
		atInclude bool   // at itself is a firing time
	}{
		"nightly before":         {"0 3 * * *", "Europe/Amsterdam", "2026-03-10 02:59:59", "2026-03-10 03:00:00", "2026-03-09 03:00:00", false},
		"nightly exactly":        {"0 3 * * *", "Europe/Amsterdam", "2026-03-10 03:00:00", "2026-03-11 03:00:00", "2026-03-10 03:00:00", true},
		"nightly after":          {"0 3 * * *", "Europe/Amsterdam", "2026-03-10 03:00:01", "2026-03-11 03:00:00", "2026-03-10 03:00:00", false},
		"every 15 min":           {"*/15 * * * *", "UTC", "2026-01-01 10:07:00", "2026-01-01 10:15:00", "2026-01-01 10:00:00", false},
		"weekdays only":          {"30 22 * * 1-5", "America/New_York", "2026-01-03 12:00:00", "2026-01-05 22:30:00", "2026-01-02 22:30:00", false},
		"monthly":                {"0 1 1 * *", "UTC", "2026-02-15 00:00:00", "2026-03-01 01:00:00", "2026-02-01 01:00:00", false},
		"yearly":                 {"0 0 1 1 *", "UTC", "2026-06-01 00:00:00", "2027-01-01 00:00:00", "2026-01-01 00:00:00", false},
		"spring forward in zone": {"30 1 * * *", "Europe/Amsterdam", "2026-03-29 00:00:00", "2026-03-29 01:30:00", "2026-03-28 01:30:00", false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := cron.Parse(tc.expr, tc.tz)
			require.NoError(t, err)
			at := mustTime(t, tc.tz, tc.at)
			require.True(t, mustTime(t, tc.tz, tc.next).Equal(s.Next(at)), "next: got %v", s.Next(at))
			require.True(t, mustTime(t, tc.tz, tc.prev).Equal(s.Prev(at)), "prev: got %v", s.Prev(at))
			// Next is strictly after; Prev of Next is Next itself.
			require.True(t, s.Next(at).After(at))
			require.True(t, s.Prev(s.Next(at)).Equal(s.Next(at)))
			// The answer is the same whatever zone the caller's time is in.
			require.True(t, s.Next(at.UTC()).Equal(s.Next(at)))
		})
	}
}

// The zone decides the instant: 03:00 in Amsterdam is 02:00 UTC in winter
// and 01:00 UTC in summer.
func TestZoneDecidesTheInstant(t *testing.T) {
	t.Parallel()
	s, err := cron.Parse("0 3 * * *", "Europe/Amsterdam")
	require.NoError(t, err)
	winter := s.Next(time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC))
	require.Equal(t, time.Date(2026, 1, 10, 2, 0, 0, 0, time.UTC), winter.UTC())
	summer := s.Next(time.Date(2026, 7, 10, 0, 0, 0, 0, time.UTC))
	require.Equal(t, time.Date(2026, 7, 10, 1, 0, 0, 0, time.UTC), summer.UTC())
	require.Equal(t, "0 3 * * *", s.String())
}
