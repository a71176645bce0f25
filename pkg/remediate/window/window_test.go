package window

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNext(t *testing.T) {
	t.Parallel()
	ams, err := time.LoadLocation("Europe/Amsterdam")
	require.NoError(t, err)
	w := Window{Weekdays: []string{"sun"}, Start: "02:00", Duration: 2 * time.Hour}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, ams)
		require.NoError(t, err)
		return tm
	}
	tests := []struct {
		name       string
		w          Window
		after      time.Time
		start, end string
	}{
		{"wednesday → next sunday", w, at("2026-06-10 12:00"), "2026-06-14 02:00", "2026-06-14 04:00"},
		{"inside the window → this window", w, at("2026-06-14 03:30"), "2026-06-14 02:00", "2026-06-14 04:00"},
		{"at the end → next week", w, at("2026-06-14 04:00"), "2026-06-21 02:00", "2026-06-21 04:00"},
		{"sunday before start", w, at("2026-06-14 01:00"), "2026-06-14 02:00", "2026-06-14 04:00"},
		{"window across midnight, still open", Window{Weekdays: []string{"Saturday"}, Start: "23:00", Duration: 3 * time.Hour},
			at("2026-06-14 01:00"), "2026-06-13 23:00", "2026-06-14 02:00"},
		// 2026-03-29: clocks jump 02:00→03:00 in Amsterdam; the 02:00 start does
		// not exist and normalises to 03:00, and the window still lasts 2h.
		{"spring forward", w, at("2026-03-28 12:00"), "2026-03-29 03:00", "2026-03-29 05:00"},
		{"several weekdays", Window{Weekdays: []string{"tue", "THU"}, Start: "22:30", Duration: time.Hour},
			at("2026-06-10 12:00"), "2026-06-11 22:30", "2026-06-11 23:30"},
	}
	for _, tt := range tests {
		start, end, ok := tt.w.Next(tt.after, ams)
		require.True(t, ok, tt.name)
		require.Equal(t, tt.start, start.In(ams).Format("2006-01-02 15:04"), tt.name)
		require.Equal(t, tt.end, end.In(ams).Format("2006-01-02 15:04"), tt.name)
	}
	_, _, ok := Window{}.Next(time.Now(), ams)
	require.False(t, ok)
}
