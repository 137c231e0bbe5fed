package janitor

import (
	"testing"
	"time"
)

func TestReferenceTimeNeverPassesTheClock(t *testing.T) {
	now := time.Date(2026, 11, 25, 3, 30, 0, 0, time.UTC)
	f := &Function{cfg: Config{EventMaxAhead: time.Hour, EventMaxAge: 24 * time.Hour}}
	tests := []struct {
		name    string
		evTime  time.Time
		want    time.Time
		refused bool
	}{
		{"now", now, now, false},
		{"no time", time.Time{}, now, false},
		{"a Broker retry's minutes late", now.Add(-3 * time.Minute), now.Add(-3 * time.Minute), false},
		{"a day late, the limit", now.Add(-24 * time.Hour), now.Add(-24 * time.Hour), false},
		{"a second ahead (clock skew)", now.Add(time.Second), now, false},
		{"an hour ahead, the limit", now.Add(time.Hour), now, false},
		{"just over an hour ahead", now.Add(time.Hour + time.Second), time.Time{}, true},
		{"2099", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}, true},
		{"just over a day late", now.Add(-24*time.Hour - time.Second), time.Time{}, true},
		{"1970", time.Unix(1, 0), time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.referenceTime(tt.evTime, now)
			if (err != nil) != tt.refused || !got.Equal(tt.want) {
				t.Errorf("referenceTime(%s) = %v, %v; want %v, refused %v", tt.evTime, got, err, tt.want, tt.refused)
			}
		})
	}
}
