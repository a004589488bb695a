// Package gateway is the local stand-in for the cluster ingress: one address
// that routes each public path of internal/operation to the process serving
// that operation. It is on the hot path of every request, so it keeps many
// idle connections per upstream and adds little of its own.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/operation"
)

// Routes maps operation names to the base URL of the process serving them.
type Routes map[string]*url.URL

// ParseRoutes reads a ROUTES setting: comma-separated "key=baseURL" entries
// where a key is anything operation.Select accepts (an operation name, a
// domain name, "all"). Entries apply in order, so a later, narrower entry
// overrides an earlier one: "all=http://a:1,stock-find=http://b:2".
func ParseRoutes(setting string) (Routes, error) {
	routes := Routes{}
	for _, entry := range strings.Split(setting, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		key, raw, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("route %q: want operation=baseURL", entry)
		}
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("route %q: base URL must be http(s)://host[:port][/path]", entry)
		}
		ops, err := operation.Select(key)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", entry, err)
		}
		for _, o := range ops {
			routes[o.Name] = u
		}
	}
	if len(routes) == 0 {
		return nil, errors.New("no routes")
	}
	return routes, nil
}

// String renders routes as a ROUTES setting, one entry per operation.
func (r Routes) String() string {
	var parts []string
	for _, o := range operation.All {
		if u, ok := r[o.Name]; ok {
			parts = append(parts, o.Name+"="+u.String())
		}
	}
	return strings.Join(parts, ",")
}

// Options tune the gateway.
type Options struct {
	// DialRetry is how long a request waits for an upstream that refuses
	// connections (a process being restarted) before the gateway answers 503.
	// Retrying a refused dial is safe for every method: nothing was sent. This
	// is what the Knative activator does for a revision that is not up yet.
	DialRetry time.Duration
	Log       *slog.Logger
}

// New returns the gateway handler: the public routes of every operation in
// routes, plus GET /health/readiness and /health/liveness of its own.
func New(routes Routes, opts Options) http.Handler {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	transport := newTransport(opts.DialRetry)
	mux := http.NewServeMux()
	proxies := map[string]*httputil.ReverseProxy{} // one per upstream, sharing the transport
	for _, o := range operation.All {
		u, ok := routes[o.Name]
		if !ok || len(o.Routes) == 0 {
			continue
		}
		p, ok := proxies[u.String()]
		if !ok {
			p = newProxy(u, transport, opts.Log)
			proxies[u.String()] = p
		}
		for _, pattern := range o.Routes {
			mux.Handle(pattern, p)
		}
	}
	ok := func(w http.ResponseWriter, _ *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
	mux.HandleFunc("GET /health/readiness", ok)
	mux.HandleFunc("GET /health/liveness", ok)
	return &router{mux: mux}
}

// router answers requests no route matches with a JSON error instead of the
// mux's plain-text page, as API.md requires of every error.
type router struct{ mux *http.ServeMux }

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, pattern := rt.mux.Handler(r); pattern != "" {
		h.ServeHTTP(w, r)
		return
	}
	// A path served under another method is a 405, with Allow, as net/http does.
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := rt.mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		api.WriteJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method " + r.Method + " not allowed on " + r.URL.Path})
		return
	}
	api.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "no route for " + r.Method + " " + r.URL.Path})
}

// copyBuffers recycles the proxy's 32 KiB copy buffers, which it would
// otherwise allocate for every response.
var copyBuffers = &bufferPool{pool: sync.Pool{New: func() any { return new([32 << 10]byte) }}}

type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte  { return b.pool.Get().(*[32 << 10]byte)[:] }
func (b *bufferPool) Put(p []byte) { b.pool.Put((*[32 << 10]byte)(p)) }

func newProxy(upstream *url.URL, transport http.RoundTripper, log *slog.Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host // as an ingress does: the function sees the public host
		},
		Transport:  transport,
		BufferPool: copyBuffers,
		// 0: a response of known length goes out in one write when the
		// handler ends, not one flush (a syscall) per copied chunk. The proxy
		// still flushes every write of a response that streams: one without
		// Content-Length, or text/event-stream (httputil.ReverseProxy's own
		// rule), so a stream is never held back.
		FlushInterval: 0,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
				return // the client left; nobody reads an answer
			}
			log.Warn("upstream unavailable", "upstream", upstream.String(), "path", r.URL.Path, "err", err)
			api.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "upstream unavailable: " + upstream.Host})
		},
	}
}

// newTransport is tuned for many concurrent requests to a few loopback
// upstreams: keep-alives on and enough idle connections per host that a
// benchmark's concurrency never has to dial again.
func newTransport(dialRetry time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: nil, // upstreams are loopback; a proxy from the environment must not apply
		// Retry while the upstream refuses (restarting), every 250 ms at most.
		DialContext:           api.RedialRefused(dialer.DialContext, dialRetry, 20*time.Millisecond, 250*time.Millisecond),
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // loopback: compression costs CPU and saves nothing
		ForceAttemptHTTP2:     false,
	}
}
