// Command smokeapp is the smoke test's CloudEvent subscriber. With
// MODE=reply it answers every event with a reply event (Knative reply
// semantics) that carries what it received; with MODE=record it keeps every
// event it receives and lists them on GET /events. GET /env shows K_SINK,
// which a SinkBinding injects. POST /probe makes a request from the pod on
// the caller's behalf, so that a test outside the cluster can see what a
// pod in that namespace may reach (the cluster tests' NetworkPolicy check).
package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Event is a binary-mode CloudEvent as received: its ce-* attributes and
// its data.
type Event struct {
	Attributes  map[string]string `json:"attributes"`
	ContentType string            `json:"contentType"`
	Data        json.RawMessage   `json:"data"`
	At          time.Time         `json:"at"`
}

func read(r *http.Request) (Event, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return Event{}, err
	}
	e := Event{Attributes: map[string]string{}, ContentType: r.Header.Get("Content-Type"), At: time.Now()}
	for k, v := range r.Header {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "ce-"); ok {
			e.Attributes[name] = v[0]
		}
	}
	if json.Valid(body) {
		e.Data = body
	} else {
		e.Data, _ = json.Marshal(string(body))
	}
	return e, nil
}

// Probe is a request POST /probe makes from the pod.
type Probe struct {
	Method string            `json:"method"`
	URL    string            `json:"url"`
	Host   string            `json:"host,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	Body   string            `json:"body,omitempty"`
}

// ProbeResult is its outcome: the answer's status, or what stopped the
// request before an answer (a refused connection, a timeout).
type ProbeResult struct {
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

var probeClient = &http.Client{Timeout: 5 * time.Second}

func probe(w http.ResponseWriter, r *http.Request) {
	var p Probe
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var res ProbeResult
	req, err := http.NewRequestWithContext(r.Context(), p.Method, p.URL, strings.NewReader(p.Body))
	if err == nil {
		req.Host = p.Host
		for k, v := range p.Header {
			req.Header.Set(k, v)
		}
		var resp *http.Response
		if resp, err = probeClient.Do(req); err == nil {
			res.Status = resp.StatusCode
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	if err != nil {
		res.Error = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(res)
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	mode := os.Getenv("MODE")
	var mu sync.Mutex
	var events []Event
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"K_SINK": os.Getenv("K_SINK"), "MODE": mode})
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(events)
	})
	mux.HandleFunc("POST /probe", probe)
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		e, err := read(r)
		if err != nil || e.Attributes["id"] == "" {
			http.Error(w, "not a binary-mode CloudEvent", http.StatusBadRequest)
			return
		}
		log.Info("event", "type", e.Attributes["type"], "id", e.Attributes["id"], "mode", mode)
		switch mode {
		case "reply":
			reply, _ := json.Marshal(map[string]any{"received": e})
			h := w.Header()
			h.Set("Ce-Specversion", "1.0")
			h.Set("Ce-Id", "reply-"+e.Attributes["id"])
			h.Set("Ce-Type", e.Attributes["type"]+".reply")
			h.Set("Ce-Source", "/smoke/replier")
			h.Set("Ce-Causeid", e.Attributes["id"])
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(reply)
		default:
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
		}
	})
	addr := ":" + envOr("PORT", "8080")
	log.Info("listening", "addr", addr, "mode", mode)
	if err := http.ListenAndServe(addr, mux); err != nil {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
