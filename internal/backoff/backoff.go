// Package backoff is how the project waits before trying a server again (a
// RabbitMQ connection or consumer, a Postgres LISTEN): quick enough that a
// restarted server (RabbitMQ is ready in about 7 s here) is picked up within
// a second, slow enough not to spin.
package backoff

import (
	"context"
	"time"
)

// The pause before the next try: Min, doubling up to Max.
const (
	Min = 100 * time.Millisecond
	Max = 2 * time.Second
)

// Repeat keeps a long-lived session going until ctx ends: each time session
// returns, lost hears its error and the pause before session runs again.
// The pause grows from Min to Max while sessions keep failing, and starts
// at Min again after a session that lasted longer than stable.
func Repeat(ctx context.Context, stable time.Duration, session func(context.Context) error, lost func(err error, pause time.Duration)) {
	pause := Min
	for ctx.Err() == nil {
		started := time.Now()
		err := session(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(started) > stable {
			pause = Min
		}
		lost(err, pause)
		if !Sleep(ctx, pause) {
			return
		}
		pause = min(2*pause, Max)
	}
}

// Sleep waits d, or less when ctx ends first (then it reports false).
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
