package eventhttp_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/wdm-knative/webshop/internal/eventhttp"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func sample(id string) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetSource("/test")
	e.SetType("shop.test.ping")
	_ = e.SetData(event.ApplicationJSON, map[string]string{"hello": "world"})
	return e
}

// echo replies with an event whose id is derived from the input's.
func echo(_ context.Context, in event.Event) (*event.Event, error) {
	out := event.New()
	out.SetID(in.ID() + "-reply")
	out.SetSource("/echo")
	out.SetType("shop.test.pong")
	if err := out.SetData(event.ApplicationJSON, in.Data()); err != nil {
		return nil, err
	}
	return &out, nil
}

func TestServe(t *testing.T) {
	binary := func(t *testing.T) *http.Request {
		req, err := cehttp.NewHTTPRequestFromEvent(context.Background(), "http://x/", sample("a1"))
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	structured := func(t *testing.T) *http.Request {
		b, err := sample("a1").MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", event.ApplicationCloudEventsJSON)
		return req
	}
	cases := []struct {
		name      string
		req       func(*testing.T) *http.Request
		h         eventhttp.Handler
		status    int
		called    bool
		wantReply bool
	}{
		{"binary with reply", binary, echo, http.StatusOK, true, true},
		{"structured with reply", structured, echo, http.StatusOK, true, true},
		{"no reply", binary, func(context.Context, event.Event) (*event.Event, error) { return nil, nil }, http.StatusNoContent, true, false},
		{"transient error retried", binary, func(context.Context, event.Event) (*event.Event, error) {
			return nil, errors.New("db down")
		}, http.StatusInternalServerError, true, false},
		{"permanent error acked as 400", binary, func(context.Context, event.Event) (*event.Event, error) {
			return nil, eventhttp.Permanent(errors.New("bad data"))
		}, http.StatusBadRequest, true, false},
		{"invalid reply is a bug, retried", binary, func(context.Context, event.Event) (*event.Event, error) {
			e := event.New() // no id, source, type
			return &e, nil
		}, http.StatusInternalServerError, true, false},
		{"not a cloudevent", func(*testing.T) *http.Request {
			return httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"x":1}`))
		}, echo, http.StatusBadRequest, false, false},
		{"missing type", func(t *testing.T) *http.Request {
			r := binary(t)
			r.Header.Del("Ce-Type")
			return r
		}, echo, http.StatusBadRequest, false, false},
		{"GET", func(*testing.T) *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }, echo, http.StatusMethodNotAllowed, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var called atomic.Bool
			h := eventhttp.New("test", func(ctx context.Context, e event.Event) (*event.Event, error) {
				called.Store(true)
				if e.ID() != "a1" || e.Type() != "shop.test.ping" {
					t.Errorf("handler got %s", e)
				}
				return c.h(ctx, e)
			}, quiet())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, c.req(t))
			if rec.Code != c.status {
				t.Errorf("status %d, want %d (%s)", rec.Code, c.status, rec.Body)
			}
			if called.Load() != c.called {
				t.Errorf("handler called=%v, want %v", called.Load(), c.called)
			}
			if !c.wantReply {
				if rec.Header().Get("Ce-Id") != "" {
					t.Errorf("unexpected reply headers %v", rec.Header())
				}
				return
			}
			// Binary mode: attributes in Ce-* headers, data as the body.
			if got := rec.Header().Get("Ce-Id"); got != "a1-reply" {
				t.Errorf("Ce-Id %q", got)
			}
			if got := rec.Header().Get("Content-Type"); got != event.ApplicationJSON {
				t.Errorf("Content-Type %q, want binary mode JSON data", got)
			}
			reply, err := cehttp.NewEventFromHTTPResponse(rec.Result())
			if err != nil {
				t.Fatal(err)
			}
			if reply.Type() != "shop.test.pong" || !strings.Contains(string(reply.Data()), "world") {
				t.Errorf("reply %s", reply)
			}
		})
	}
}

func TestSender(t *testing.T) {
	var got atomic.Value
	ok := httptest.NewServer(eventhttp.New("sink", func(_ context.Context, e event.Event) (*event.Event, error) {
		got.Store(e.ID())
		return nil, nil
	}, quiet()))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()

	cases := []struct {
		name    string
		url     string
		wantErr error
	}{
		{"accepted", ok.URL, nil},
		{"refused", failing.URL, eventhttp.ErrNotAccepted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := eventhttp.Sender{URL: c.url}.Send(context.Background(), sample("s1"))
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err %v, want %v", err, c.wantErr)
			}
		})
	}
	if got.Load() != "s1" {
		t.Errorf("sink got %v", got.Load())
	}
	if err := (eventhttp.Sender{URL: "http://127.0.0.1:1/"}).Send(context.Background(), sample("s2")); err == nil {
		t.Error("send to a closed port succeeded")
	}
}
