package api

import (
	"fmt"
	"net/http"

	"github.com/wdm-knative/webshop/internal/operation"
)

// Router serves operations' routes on a net/http ServeMux. Requests no route
// matches are answered with a JSON error (404, or 405 with Allow) instead of
// the mux's plain-text pages, so every answer of the API is JSON.
type Router struct {
	mux *http.ServeMux
}

// NewRouter returns an empty router.
func NewRouter() *Router { return &Router{mux: http.NewServeMux()} }

// Handle registers h for a net/http pattern ("POST /stock/add/{item_id}/{amount}").
func (rt *Router) Handle(pattern string, h http.Handler) { rt.mux.Handle(pattern, h) }

// Mount registers the HTTP routes of ops, each served by the handler that
// handlers holds under the operation's name. An HTTP operation without a
// handler is a wiring bug, reported rather than left as a silent 404.
// Event operations are skipped: their wiring is the caller's.
func (rt *Router) Mount(ops []operation.Operation, handlers map[string]http.Handler) error {
	for _, op := range ops {
		if op.Event() {
			continue
		}
		h, ok := handlers[op.Name]
		if !ok {
			return fmt.Errorf("operation %s has no HTTP handler", op.Name)
		}
		for _, route := range op.Routes {
			rt.mux.Handle(route, h)
		}
	}
	return nil
}

// ServeHTTP dispatches r, turning the mux's own 404/405 into JSON.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := rt.mux.Handler(r)
	if pattern != "" {
		rt.mux.ServeHTTP(w, r) // sets r's path values, then calls h
		return
	}
	// No pattern matched: h is the mux's not-found, method-not-allowed or
	// redirect handler. Run it against a recorder to learn which.
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		WriteJSON(w, http.StatusNotFound, map[string]string{"error": "no such route: " + r.Method + " " + r.URL.Path})
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method " + r.Method + " not allowed on " + r.URL.Path})
	default:
		// A redirect to the cleaned path, say: pass it on unchanged.
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body)
	}
}

// headerRecorder keeps what the mux's fallback handlers write.
type headerRecorder struct {
	header http.Header
	status int
	body   []byte
}

func (h *headerRecorder) Header() http.Header { return h.header }

func (h *headerRecorder) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *headerRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	h.body = append(h.body, b...)
	return len(b), nil
}
