package loadtest

import (
	"context"
	"sync"
	"time"
)

// pacer hands out start times for rounds at a fixed rate, shared by every
// client: an open-loop arrival schedule, bounded by the clients there are.
// A nil pacer (rate 0) never waits: the clients run closed-loop.
type pacer struct {
	mu       sync.Mutex
	next     time.Time
	interval time.Duration
	now      func() time.Time
}

// maxBacklog is how far the schedule may fall behind: when every client was
// busy for longer, the rounds missed meanwhile are dropped rather than sent
// as a burst that no real user population would produce.
const maxBacklog = time.Second

func newPacer(start time.Time, rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{next: start, interval: time.Duration(float64(time.Second) / rate), now: time.Now}
}

// slot reserves the next start time.
func (p *pacer) slot() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	if late := p.now().Add(-maxBacklog); p.next.Before(late) {
		p.next = late
	}
	t := p.next
	p.next = p.next.Add(p.interval)
	return t
}

// wait blocks until the caller's next round may start; false when ctx (the
// measured phase) ended first.
func (p *pacer) wait(ctx context.Context) bool {
	if p == nil {
		return ctx.Err() == nil
	}
	d := p.slot().Sub(p.now())
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return ctx.Err() == nil
}
