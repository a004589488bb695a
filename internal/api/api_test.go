package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/wdm-knative/webshop/internal/operation"

	"github.com/wdm-knative/webshop/local/testenv"
)

func TestStatus(t *testing.T) {
	errOutOfStock := NewError(ErrRejected, "insufficient stock")
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "bad request", err: fmt.Errorf("%w: amount", ErrBadRequest), want: 400},
		{name: "domain rejection wrapped", err: fmt.Errorf("subtract: %w", errOutOfStock), want: 400},
		{name: "not found", err: NewError(ErrNotFound, "item not found"), want: 404},
		{name: "unavailable", err: fmt.Errorf("stock: %w", ErrUnavailable), want: 503},
		{name: "check violation", err: &pgconn.PgError{Code: "23514"}, want: 400},
		{name: "bigint overflow", err: fmt.Errorf("add: %w", &pgconn.PgError{Code: "22003"}), want: 400},
		{name: "other postgres error", err: &pgconn.PgError{Code: "40P01"}, want: 500},
		{name: "unknown", err: errors.New("boom"), want: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Status(tt.err); got != tt.want {
				t.Fatalf("Status(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestWriteErrorHidesInternals(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/x", nil)
	WriteError(rec, req, slog.New(slog.NewTextHandler(io.Discard, nil)), errors.New("dial tcp 10.0.0.1: secret"))
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 500 || body["error"] != "Internal Server Error" {
		t.Fatalf("got %d %v", rec.Code, body)
	}
}

func TestRouter(t *testing.T) {
	ops := []operation.Operation{
		{Name: "find", Routes: []string{"GET /stock/find/{item_id}"}},
		{Name: "add", Routes: []string{"POST /stock/add/{item_id}/{amount}"}},
		{Name: "event", EventPath: "/events/x"},
	}
	handlers := map[string]http.Handler{
		"find": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := PathOf(r)
			id := p.ID("item_id")
			if err := p.Err(); err != nil {
				WriteError(w, r, slog.Default(), err)
				return
			}
			OK(w, map[string]string{"id": id})
		}),
		"add": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { OK(w, nil) }),
	}
	rt := NewRouter()
	if err := rt.Mount(ops, handlers); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rt)
	defer srv.Close()

	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantKey    string
	}{
		{name: "match", method: "GET", path: "/stock/find/abc", wantStatus: 200, wantKey: "id"},
		{name: "escaped slash in ID", method: "GET", path: "/stock/find/a%2Fb", wantStatus: 200, wantKey: "id"},
		{name: "control character in ID", method: "GET", path: "/stock/find/a%00b", wantStatus: 400, wantKey: "error"},
		{name: "unknown route", method: "GET", path: "/nope", wantStatus: 404, wantKey: "error"},
		{name: "missing segment", method: "POST", path: "/stock/add/abc", wantStatus: 404, wantKey: "error"},
		{name: "wrong method", method: "POST", path: "/stock/find/abc", wantStatus: 405, wantKey: "error"},
		{name: "event path is not an HTTP route", method: "POST", path: "/events/x", wantStatus: 404, wantKey: "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, header, body := testenv.Call(t, tt.method, srv.URL+tt.path)
			if code != tt.wantStatus || body[tt.wantKey] == nil {
				t.Fatalf("%s %s = %d %v; want %d with %q", tt.method, tt.path, code, body, tt.wantStatus, tt.wantKey)
			}
			if tt.wantStatus == 405 && header.Get("Allow") == "" {
				t.Fatal("405 without Allow header")
			}
		})
	}
}

func TestMountMissingHandler(t *testing.T) {
	err := NewRouter().Mount([]operation.Operation{{Name: "x", Routes: []string{"GET /x"}}}, nil)
	if err == nil {
		t.Fatal("Mount accepted an operation without a handler")
	}
}
