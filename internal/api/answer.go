package api

import (
	"context"
	"log/slog"
	"net/http"
)

// Run is an operation's work once its path values are read: its result is
// answered with 200, its error through WriteError.
type Run[T any] func(ctx context.Context) (T, error)

// Handle serves an operation written in the shape every HTTP operation
// shares: read takes the operation's values from the request's path and
// returns its work. The first bad value is answered through WriteError and
// the work does not run; otherwise the work runs and its result or error is
// answered.
func Handle[T any](log *slog.Logger, read func(p *Path) Run[T]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := PathOf(r)
		run := read(p)
		if err := p.Err(); err != nil {
			WriteError(w, r, log, err)
			return
		}
		v, err := run(r.Context())
		if err != nil {
			WriteError(w, r, log, err)
			return
		}
		OK(w, v)
	})
}

// Lookup serves the read of one resource by the ID in wildcard name (an
// item, a user, an order): find's result, or its error (ErrNotFound: 404).
func Lookup[T any](log *slog.Logger, name string, find func(ctx context.Context, id string) (T, error)) http.Handler {
	return Handle(log, func(p *Path) Run[T] {
		id := p.ID(name)
		return func(ctx context.Context) (T, error) { return find(ctx, id) }
	})
}
