package gateway_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/local/stack/gateway"
	"github.com/wdm-knative/webshop/local/testenv"
)

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// concrete turns a route pattern into a request path ("{item_id}" -> "7").
func concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	return method, regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "7")
}

// Every public route reaches the upstream of its own operation, with the
// path, query and method unchanged.
func TestEveryRouteReachesItsOperation(t *testing.T) {
	routes := gateway.Routes{}
	for _, o := range operation.All {
		name := o.Name
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Operation", name)
			io.WriteString(w, r.Method+" "+r.URL.RequestURI())
		}))
		t.Cleanup(up.Close)
		u, _ := url.Parse(up.URL)
		routes[name] = u
	}
	gw := httptest.NewServer(gateway.New(routes, gateway.Options{Log: quiet}))
	defer gw.Close()

	for _, o := range operation.All {
		for _, pattern := range o.Routes {
			t.Run(pattern, func(t *testing.T) {
				method, path := concrete(pattern)
				req, _ := http.NewRequest(method, gw.URL+path+"?x=1", nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if got := resp.Header.Get("X-Operation"); got != o.Name {
					t.Errorf("served by %q, want %q", got, o.Name)
				}
				if want := method + " " + path + "?x=1"; string(body) != want {
					t.Errorf("upstream saw %q, want %q", body, want)
				}
			})
		}
	}
}

func TestErrorsAreJSON(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer up.Close()
	upURL, _ := url.Parse(up.URL)
	// A port nobody listens on: connections are refused.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL, _ := url.Parse("http://" + l.Addr().String())
	l.Close()

	routes := gateway.Routes{"stock-find": upURL, "payment-find-user": deadURL}
	gw := httptest.NewServer(gateway.New(routes, gateway.Options{DialRetry: 100 * time.Millisecond, Log: quiet}))
	defer gw.Close()

	tests := []struct {
		name, method, path string
		status             int
	}{
		{"unknown prefix", "GET", "/nope/1", http.StatusNotFound},
		{"known prefix, unknown route", "GET", "/stock/nope/1", http.StatusNotFound},
		{"missing path parameter", "GET", "/stock/find/", http.StatusNotFound},
		{"route of an operation without upstream", "POST", "/stock/add/1/2", http.StatusNotFound},
		{"wrong method", "DELETE", "/stock/find/1", http.StatusMethodNotAllowed},
		{"upstream down", "GET", "/payment/find_user/1", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, header, body := testenv.Call(t, tt.method, gw.URL+tt.path)
			if code != tt.status {
				t.Errorf("status %d, want %d", code, tt.status)
			}
			if ct := header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			if msg, _ := body["error"].(string); msg == "" {
				t.Errorf("body %v; want {\"error\": ...}", body)
			}
		})
	}
}

// A request to an upstream that is restarting waits for it instead of failing.
func TestWaitsForRestartingUpstream(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	u, _ := url.Parse("http://" + addr)
	gw := httptest.NewServer(gateway.New(gateway.Routes{"stock-find": u}, gateway.Options{DialRetry: 5 * time.Second, Log: quiet}))
	defer gw.Close()

	go func() {
		time.Sleep(300 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return // the test fails on the status below
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "up") })}
		t.Cleanup(func() { srv.Close() })
		srv.Serve(l)
	}()
	resp, err := http.Get(gw.URL + "/stock/find/1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "up" {
		t.Fatalf("got %d %q, want 200 \"up\"", resp.StatusCode, body)
	}
}

func TestParseRoutes(t *testing.T) {
	tests := []struct {
		name, setting string
		want          map[string]string // operation -> host; nil means an error
	}{
		{"one operation", "stock-find=http://127.0.0.1:1", map[string]string{"stock-find": "127.0.0.1:1"}},
		{"domain", "payment=http://127.0.0.1:2", map[string]string{"payment-pay": "127.0.0.1:2", "payment-refund": "127.0.0.1:2"}},
		{"later entry wins", "all=http://a:1, stock-find=http://b:2", map[string]string{"stock-find": "b:2", "order-find": "a:1"}},
		{"unknown operation", "stock-fnd=http://a:1", nil},
		{"no scheme", "stock-find=127.0.0.1:1", nil},
		{"no equals sign", "stock-find", nil},
		{"empty", " , ", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gateway.ParseRoutes(tt.setting)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("want an error, got %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for op, host := range tt.want {
				if got[op] == nil || got[op].Host != host {
					t.Errorf("%s -> %v, want host %s", op, got[op], host)
				}
			}
			again, err := gateway.ParseRoutes(got.String())
			if err != nil || again.String() != got.String() {
				t.Errorf("String does not round-trip: %q -> %v", got.String(), err)
			}
		})
	}
}

// The gateway's own cost per request: a proxy hop over loopback keep-alive
// connections to an upstream that answers at once.
func BenchmarkGatewayHop(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `{"stock":1,"price":2}`)
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	gw := httptest.NewServer(gateway.New(gateway.Routes{"stock-find": u}, gateway.Options{Log: quiet}))
	defer gw.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(gw.URL + "/stock/find/1")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// writeCounter counts the writes to the connections a listener accepts:
// each is a send syscall on the gateway's side.
type writeCounter struct {
	net.Listener
	writes atomic.Int64
}

func (l *writeCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	return &countedConn{Conn: c, writes: &l.writes}, err
}

type countedConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// A response of known length leaves the gateway in one write however the
// upstream sent it; a streaming one (no Content-Length, or server-sent
// events) reaches the client chunk by chunk, before the upstream is done.
func TestFlushesOnlyStreamingResponses(t *testing.T) {
	const chunks = 4
	tests := []struct {
		name        string
		contentType string
		length      bool // the upstream declares Content-Length
		streams     bool
	}{
		{"JSON of known length", "application/json", true, false},
		{"JSON without Content-Length", "application/json", false, true},
		{"server-sent events of known length", "text/event-stream", true, true},
		{"server-sent events", "text/event-stream; charset=utf-8", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The upstream sends each chunk on its own and, for a stream,
			// waits until the client saw it before sending the next.
			seen := make(chan struct{})
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				if tt.length {
					w.Header().Set("Content-Length", strconv.Itoa(chunks*len("chunk\n")))
				}
				for range chunks {
					io.WriteString(w, "chunk\n")
					w.(http.Flusher).Flush()
					if tt.streams {
						select {
						case <-seen:
						case <-time.After(5 * time.Second):
							return // the gateway held the chunk back; the client fails
						}
					}
				}
			}))
			defer up.Close()
			u, _ := url.Parse(up.URL)
			gw := httptest.NewUnstartedServer(gateway.New(gateway.Routes{"stock-find": u}, gateway.Options{Log: quiet}))
			counter := &writeCounter{Listener: gw.Listener}
			gw.Listener = counter
			gw.Start()
			defer gw.Close()

			resp, err := http.Get(gw.URL + "/stock/find/1")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			for i := range chunks {
				line, err := r.ReadString('\n')
				if err != nil || line != "chunk\n" {
					t.Fatalf("chunk %d: %q, %v", i, line, err)
				}
				if tt.streams {
					seen <- struct{}{}
				}
			}
			if rest, _ := io.ReadAll(r); len(rest) != 0 {
				t.Errorf("trailing %q", rest)
			}
			if got := counter.writes.Load(); !tt.streams && got != 1 {
				t.Errorf("the gateway wrote the response in %d writes, want 1", got)
			} else if tt.streams && got < chunks {
				t.Errorf("the gateway wrote a stream of %d chunks in %d writes", chunks, got)
			}
		})
	}
}
