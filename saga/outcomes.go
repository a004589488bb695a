package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/backoff"
)

// Tuning of the listener. Every waiter also polls its saga now and then, as
// a safety net should a notification be lost in a way the listener cannot
// see (the database restarting between the decision and our LISTEN is
// covered by the re-check after every reconnect; this covers the rest).
const (
	healthEvery   = 10 * time.Second // ping the idle LISTEN connection this often
	waiterRecheck = 5 * time.Second
)

// Outcomes wakes checkouts waiting for sagas to end. One per process: it
// holds one Postgres connection that LISTENs on NotifyChannel, reconnects
// when it drops, and after every (re)connect re-reads the sagas of all
// current waiters, since notifications sent while it was away are lost.
type Outcomes struct {
	dsn   string
	store *Store
	log   *slog.Logger

	mu      sync.Mutex
	waiters map[string]map[chan Outcome]struct{}
}

// NewOutcomes returns a listener on the order database at dsn; store reads
// sagas for the re-checks. Run must be running for waiters to wake promptly.
func NewOutcomes(dsn string, store *Store, log *slog.Logger) *Outcomes {
	return &Outcomes{dsn: dsn, store: store, log: log, waiters: map[string]map[chan Outcome]struct{}{}}
}

// Watch is one caller's interest in a saga's outcome. Registered before the
// saga can be decided (before its first event is sent), it needs no read to
// learn of a decision made earlier: there is none.
type Watch struct {
	o  *Outcomes
	id string
	ch chan Outcome
}

// Watch registers interest in the outcome of the saga id; Close it when done.
func (o *Outcomes) Watch(id string) *Watch {
	w := &Watch{o: o, id: id, ch: make(chan Outcome, 1)}
	o.add(id, w.ch)
	return w
}

// Close unregisters the watch.
func (w *Watch) Close() { w.o.remove(w.id, w.ch) }

// Wait blocks until the saga is paid or failed, or ctx ends. Now and then it
// reads the saga, a safety net for a notification lost in a way the
// listener cannot see.
func (w *Watch) Wait(ctx context.Context) (Outcome, error) {
	tick := time.NewTicker(waiterRecheck)
	defer tick.Stop()
	for {
		select {
		case out := <-w.ch:
			return out, nil
		case <-ctx.Done():
			return Outcome{}, ctx.Err()
		case <-tick.C:
			if out, ok := w.read(ctx); ok {
				return out, nil
			}
		}
	}
}

// read looks the saga's outcome up in the database.
func (w *Watch) read(ctx context.Context) (Outcome, bool) {
	out, err := w.o.store.Outcomes(ctx, []string{w.id})
	if err != nil && ctx.Err() == nil {
		w.o.log.Warn("read saga outcome", "saga", w.id, "err", err)
	}
	if err != nil || len(out) != 1 {
		return Outcome{}, false
	}
	return out[0], true
}

// Wait blocks until the saga id, which may have been decided already, is
// paid or failed, or ctx ends: registered first, read second, so a decision
// between the two is either in the read or in a notification.
func (o *Outcomes) Wait(ctx context.Context, id string) (Outcome, error) {
	w := o.Watch(id)
	defer w.Close()
	if out, ok := w.read(ctx); ok {
		return out, nil
	}
	return w.Wait(ctx)
}

func (o *Outcomes) add(id string, ch chan Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.waiters[id] == nil {
		o.waiters[id] = map[chan Outcome]struct{}{}
	}
	o.waiters[id][ch] = struct{}{}
}

func (o *Outcomes) remove(id string, ch chan Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.waiters[id], ch)
	if len(o.waiters[id]) == 0 {
		delete(o.waiters, id)
	}
}

// wake hands an outcome to every waiter of its saga.
func (o *Outcomes) wake(out Outcome) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for ch := range o.waiters[out.SagaID] {
		select {
		case ch <- out:
		default: // already woken
		}
	}
}

func (o *Outcomes) waiting() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Collect(maps.Keys(o.waiters))
}

// Run listens until ctx ends, reconnecting with backoff.
func (o *Outcomes) Run(ctx context.Context) {
	backoff.Repeat(ctx, time.Minute, o.listen, func(err error, _ time.Duration) {
		o.log.Warn("saga outcome listener lost its connection", "err", err)
	})
}

func (o *Outcomes) listen(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, o.dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := o.recheck(ctx); err != nil {
		return err
	}
	o.log.Debug("saga outcome listener connected")
	for {
		waitCtx, cancel := context.WithTimeout(ctx, healthEvery)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			// Quiet for a while: make sure the connection is alive, or a
			// dead one would keep us waiting forever.
			if err := conn.Ping(ctx); err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			continue
		case err != nil:
			return fmt.Errorf("wait: %w", err)
		}
		var out Outcome
		if err := json.Unmarshal([]byte(n.Payload), &out); err != nil {
			o.log.Error("bad saga outcome notification", "payload", n.Payload, "err", err)
			continue
		}
		o.wake(out)
	}
}

// recheck wakes the waiters whose sagas ended while nobody listened.
func (o *Outcomes) recheck(ctx context.Context) error {
	ids := o.waiting()
	if len(ids) == 0 {
		return nil
	}
	outs, err := o.store.Outcomes(ctx, ids)
	if err != nil {
		return fmt.Errorf("recheck: %w", err)
	}
	for _, out := range outs {
		o.wake(out)
	}
	return nil
}
