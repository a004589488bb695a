package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/pgtx"
)

// ErrNotFound is a dead-letter id with no row.
var ErrNotFound = errors.New("dead letter not found")

// Letter is one stored dead letter.
type Letter struct {
	ID         int64           `json:"id"`
	EventID    string          `json:"event_id"`
	Source     string          `json:"source"`
	Type       string          `json:"type"`
	Subject    string          `json:"subject,omitempty"`
	Trigger    string          `json:"trigger"`
	ErrorDest  string          `json:"error_dest,omitempty"`
	ErrorCode  int             `json:"error_code"`
	ErrorData  string          `json:"error_data,omitempty"`
	Event      json.RawMessage `json:"event"` // structured-mode CloudEvent, as received
	ReceivedAt time.Time       `json:"received_at"`
	ReplayedAt *time.Time      `json:"replayed_at,omitempty"`
	Replays    int             `json:"replays"`
}

// Store keeps dead letters in the dead_letters table (order database).
type Store struct{ db pgtx.Executor }

// NewStore returns a store on db (a pool, or shopctl's connection).
func NewStore(db pgtx.Executor) *Store { return &Store{db: db} }

// Save stores l unless the same event already failed on the same Trigger,
// and reports whether it added a row. One statement, no lock held past it.
func (s *Store) Save(ctx context.Context, l Letter) (bool, error) {
	tag, err := s.db.Exec(ctx, `
		INSERT INTO dead_letters (event_id, source, type, subject, trigger, error_dest, error_code, error_data, event)
		VALUES ($1, $2, $3, nullif($4, ''), $5, nullif($6, ''), $7, nullif($8, ''), $9)
		ON CONFLICT (event_id, source, trigger) DO NOTHING`,
		l.EventID, l.Source, l.Type, l.Subject, l.Trigger, l.ErrorDest, l.ErrorCode, l.ErrorData, l.Event)
	if err != nil {
		return false, fmt.Errorf("store dead letter: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Prune deletes dead letters received more than retention ago, at most
// limit of them (a first prune after a long outage is spread over ticks).
func (s *Store) Prune(ctx context.Context, retention time.Duration, limit int) (int64, error) {
	tag, err := s.db.Exec(ctx, `
		DELETE FROM dead_letters WHERE id IN (
			SELECT id FROM dead_letters WHERE received_at < now() - $1 * interval '1 millisecond'
			ORDER BY received_at LIMIT $2)`, retention.Milliseconds(), limit)
	if err != nil {
		return 0, fmt.Errorf("prune dead letters: %w", err)
	}
	return tag.RowsAffected(), nil
}

const letterColumns = `id, event_id, source, type, coalesce(subject, ''), trigger, coalesce(error_dest, ''),
	coalesce(error_code, 0), coalesce(error_data, ''), event, received_at, replayed_at, replays`

func scanLetter(row pgx.Row) (Letter, error) {
	var l Letter
	err := row.Scan(&l.ID, &l.EventID, &l.Source, &l.Type, &l.Subject, &l.Trigger, &l.ErrorDest,
		&l.ErrorCode, &l.ErrorData, &l.Event, &l.ReceivedAt, &l.ReplayedAt, &l.Replays)
	return l, err
}

// List returns up to limit dead letters, oldest first.
func (s *Store) List(ctx context.Context, limit int) ([]Letter, error) {
	return pgtx.Collect(ctx, s.db, func(r pgx.CollectableRow) (Letter, error) { return scanLetter(r) },
		"list dead letters", `SELECT `+letterColumns+` FROM dead_letters ORDER BY id LIMIT $1`, limit)
}

// Get returns one dead letter, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id int64) (Letter, error) {
	l, err := scanLetter(s.db.QueryRow(ctx, `SELECT `+letterColumns+` FROM dead_letters WHERE id = $1`, id))
	if err != nil {
		return Letter{}, pgtx.RowError(err, ErrNotFound, "dead letter %d", id)
	}
	return l, nil
}

// MarkReplayed records that a dead letter was sent to the broker again.
func (s *Store) MarkReplayed(ctx context.Context, id int64) error {
	tag, err := s.db.Exec(ctx, `UPDATE dead_letters SET replayed_at = now(), replays = replays + 1 WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("mark dead letter %d replayed: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("dead letter %d: %w", id, ErrNotFound)
	}
	return nil
}
