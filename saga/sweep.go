package saga

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// sweepRounds bounds the batches one sweep handles, so a sweep ends even when
// the broker refuses everything; the next one goes on.
const sweepRounds = 20

// sendWorkers is how many events the sweep sends at once.
const sendWorkers = 8

// OnPing handles a PingSource tick (operation saga-sweep) by sweeping once.
// The sweep also runs on its own ticker where saga-sweep is served (see
// RunSweeps); the PingSource is the backstop that wakes a scaled-to-zero
// Service.
func (h *Events) OnPing(ctx context.Context, _ event.Event) (*event.Event, error) {
	return nil, h.Sweep(ctx)
}

// Sweep re-drives stalled sagas: every running saga that has not moved for
// StallAfter gets what it waits for re-sent (checkout.requested while
// pending, checkout.compensate while compensating); a saga pending past
// Deadline is decided as failed first, so it compensates. Re-sending is
// always safe: participants answer duplicates from their ledgers. Several
// sweeps may run at once (SKIP LOCKED hands each saga to one of them).
func (h *Events) Sweep(ctx context.Context) error {
	for range sweepRounds {
		batch, err := h.store.Stalled(ctx, h.opts.StallAfter, h.opts.Deadline, h.opts.Batch)
		if err != nil {
			return err
		}
		h.resend(ctx, batch)
		if len(batch) < h.opts.Batch {
			return nil
		}
	}
	return nil
}

// RunSweeps sweeps every SweepEvery until ctx ends. In a cluster the
// PingSource fires once a minute at most, while a saga pending for Deadline
// is compensated: re-driving a lost reply in time needs a period well below
// Deadline, which only a ticker in the process gives.
func (h *Events) RunSweeps(ctx context.Context) {
	tick := time.NewTicker(h.opts.SweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := h.Sweep(ctx); err != nil && ctx.Err() == nil {
				h.log.Warn("saga sweep failed", "err", err)
			}
		}
	}
}

// resend sends what each saga waits for; failures are logged and left to
// the next sweep (the saga's updated_at was bumped, so it comes round again).
func (h *Events) resend(ctx context.Context, batch []Saga) {
	work := make(chan Saga)
	var wg sync.WaitGroup
	for range min(sendWorkers, len(batch)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sg := range work {
				e, err := emitted(sg, Awaiting(sg.State))
				if err == nil && e != nil {
					err = h.send(ctx, *e)
				}
				if err != nil {
					h.log.Warn("sweep re-send failed", "saga", sg.ID, "err", err)
					continue
				}
				h.log.Info("sweep re-sent", "saga", sg.ID, "order", sg.OrderID, "state", sg.State.String(),
					"attempts", sg.Attempts)
			}
		}()
	}
	for _, sg := range batch {
		work <- sg
	}
	close(work)
	wg.Wait()
}

// Stalled claims up to limit running sagas unchanged for stallAfter, in one
// statement: a pending saga older than deadline takes the machine's Deadline
// transition (to compensating, reason "deadline"); every claimed saga's
// attempts and updated_at are bumped so the next sweep leaves it alone for
// another stallAfter. SKIP LOCKED lets several sweepers (or a saga step
// holding a row) run at once without waiting on each other.
func (s *Store) Stalled(ctx context.Context, stallAfter, deadline time.Duration, limit int) ([]Saga, error) {
	out, err := pgtx.Retry(ctx, func(ctx context.Context) ([]Saga, error) {
		rows, err := s.db.Query(ctx, `
			WITH stalled AS (
				SELECT id, created_at < now() - $2 * interval '1 millisecond' AS overdue
				FROM sagas
				WHERE status IN ('pending', 'compensating') AND updated_at < now() - $1 * interval '1 millisecond'
				ORDER BY updated_at
				LIMIT $3
				FOR UPDATE SKIP LOCKED
			), next AS (
				SELECT st.id, t.next_status
				FROM stalled st JOIN sagas s ON s.id = st.id
				LEFT JOIN saga_transitions t ON st.overdue
					AND (t.status, t.stock, t.payment, t.input) = (s.status, s.stock, s.payment, 'Deadline')
			)
			UPDATE sagas SET
				status = coalesce(next.next_status, sagas.status),
				reason = CASE WHEN next.next_status = 'compensating' THEN coalesce(sagas.reason, 'deadline')
				         ELSE sagas.reason END,
				attempts = sagas.attempts + 1,
				updated_at = now()
			FROM next
			WHERE sagas.id = next.id
			RETURNING `+sagaColumns,
			stallAfter.Milliseconds(), deadline.Milliseconds(), limit)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Saga, error) { return scanSaga(row) })
	})
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	return out, nil
}

// send hands one re-sent event to the broker within SendTimeout, and no
// longer than StallAfter: by then the sweep would send it again anyway, and
// a sweep waiting on slow sends would decide overdue sagas late.
func (h *Events) send(ctx context.Context, e event.Event) error {
	ctx, cancel := context.WithTimeout(ctx, min(h.opts.SendTimeout, h.opts.StallAfter))
	defer cancel()
	return h.sink.Send(ctx, e)
}
