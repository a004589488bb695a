package saga

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/schemas"
)

// sweepRounds bounds the batches one tick handles, so a tick ends even when
// the broker refuses everything; the next tick goes on.
const sweepRounds = 20

// sendWorkers is how many events the sweep sends at once.
const sendWorkers = 8

// Sweep handles a PingSource tick (operation saga-sweep): every running saga
// that has not moved for StallAfter gets what it waits for re-sent
// (checkout.requested while pending, checkout.compensate while
// compensating); a saga pending past Deadline is decided as failed first,
// so it compensates. Re-sending is always safe: participants answer
// duplicates from their ledgers. The sweep sends through the sink itself,
// since one tick may yield many events.
func (h *Events) Sweep(ctx context.Context, _ event.Event) (*event.Event, error) {
	for range sweepRounds {
		batch, err := h.store.Stalled(ctx, h.opts.StallAfter, h.opts.Deadline, h.opts.Batch)
		if err != nil {
			return nil, err
		}
		h.resend(ctx, batch)
		if len(batch) < h.opts.Batch {
			return nil, nil
		}
	}
	return nil, nil
}

// resend sends what each saga waits for; failures are logged and left to
// the next tick (the saga's updated_at was bumped, so it comes round again).
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
					err = h.sink.Send(ctx, *e)
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
// transaction: a pending saga older than deadline turns compensating; every
// claimed saga's attempts and updated_at are bumped so the next sweep leaves
// it alone for another stallAfter. SKIP LOCKED lets several sweepers (or a
// saga-step holding a row) run at once without waiting on each other.
func (s *Store) Stalled(ctx context.Context, stallAfter, deadline time.Duration, limit int) ([]Saga, error) {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	rows, err := tx.Query(ctx, `
		SELECT `+sagaColumns+`, created_at < now() - $2 * interval '1 millisecond'
		FROM sagas
		WHERE status IN ('pending', 'compensating') AND updated_at < now() - $1 * interval '1 millisecond'
		ORDER BY updated_at
		LIMIT $3
		FOR UPDATE SKIP LOCKED`,
		stallAfter.Milliseconds(), deadline.Milliseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	type stalled struct {
		Saga
		overdue bool
	}
	var found []stalled
	for rows.Next() {
		var st stalled
		if st.Saga, err = scanSaga(rows, &st.overdue); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sweep: %w", err)
		}
		found = append(found, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}

	out := make([]Saga, 0, len(found))
	for _, st := range found {
		sg := st.Saga
		if st.overdue && sg.State.Status == Pending {
			d := Apply(sg.State, Deadline)
			sg.State = d.Next
			if sg.Reason == "" {
				sg.Reason = schemas.ReasonDeadline
			}
		}
		sg.Attempts++
		if err := save(ctx, tx, sg, true); err != nil {
			return nil, err
		}
		out = append(out, sg)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("sweep: commit: %w", err)
	}
	return out, nil
}
