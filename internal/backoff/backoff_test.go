package backoff

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// Failing sessions are tried again after pauses that double; a session that
// outlasts stable starts the pauses over; Repeat returns once ctx ends.
func TestRepeat(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	boom := errors.New("boom")
	var pauses []time.Duration
	runs := 0
	Repeat(ctx, 50*time.Millisecond, func(context.Context) error {
		runs++
		if runs == 4 {
			time.Sleep(60 * time.Millisecond) // a stable session
		}
		return boom
	}, func(err error, pause time.Duration) {
		if !errors.Is(err, boom) {
			t.Errorf("lost heard %v", err)
		}
		pauses = append(pauses, pause)
		if len(pauses) == 5 {
			cancel()
		}
	})
	if want := []time.Duration{Min, 2 * Min, 4 * Min, Min, 2 * Min}; !slices.Equal(pauses, want) {
		t.Errorf("pauses %v, want %v", pauses, want)
	}
	if runs != 5 {
		t.Errorf("%d sessions, want 5", runs)
	}
}
