package api

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
)

func TestHandle(t *testing.T) {
	errGone := NewError(ErrNotFound, "item not found")
	tests := []struct {
		name     string
		path     string // the {n} wildcard
		err      error  // what the work returns
		want     int
		wantBody string
		wantRan  bool
	}{
		{name: "success", path: "7", want: 200, wantBody: `{"n":7}` + "\n", wantRan: true},
		{name: "parse error skips the call", path: "x", want: 400, wantBody: `{"error":"bad request: n must be a non-negative integer"}` + "\n"},
		{name: "call error", path: "7", err: errGone, want: 404, wantBody: `{"error":"item not found"}` + "\n", wantRan: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/x/"+tt.path, nil)
			req.SetPathValue("n", tt.path)
			rec := httptest.NewRecorder()
			ran := false
			Handle(slog.New(slog.DiscardHandler), func(p *Path) Run[map[string]int64] {
				n := p.Amount("n")
				return func(context.Context) (map[string]int64, error) {
					ran = true
					return map[string]int64{"n": n}, tt.err
				}
			}).ServeHTTP(rec, req)
			if rec.Code != tt.want || rec.Body.String() != tt.wantBody || ran != tt.wantRan {
				t.Fatalf("got %d %q ran=%v, want %d %q ran=%v", rec.Code, rec.Body.String(), ran, tt.want, tt.wantBody, tt.wantRan)
			}
		})
	}
}
