package api

import (
	"context"
	"log/slog"
	"net/http"
)

// Answer is the shape every HTTP operation shares: once the handler has read
// its path values from p, Answer refuses the request with p's first parse
// error (do does not run), otherwise runs do and answers its result with 200,
// or its error through WriteError.
func Answer[T any](w http.ResponseWriter, r *http.Request, log *slog.Logger, p *Path, do func(ctx context.Context) (T, error)) {
	if err := p.Err(); err != nil {
		WriteError(w, r, log, err)
		return
	}
	v, err := do(r.Context())
	if err != nil {
		WriteError(w, r, log, err)
		return
	}
	OK(w, v)
}
