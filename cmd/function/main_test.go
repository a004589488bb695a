package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/local/servers"
	"github.com/wdm-knative/webshop/local/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestRunServesAndShutsDown runs the command's server as the local stack
// does (settings from the environment), probes it, and stops it as SIGTERM would.
func TestRunServesAndShutsDown(t *testing.T) {
	port, err := servers.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("FUNCTION", "payment-create-user,payment-find-user")
	t.Setenv("PAYMENT_DSN", testenv.NewDatabase(t))
	t.Setenv("MIGRATE", "true")
	t.Setenv("PORT", fmt.Sprint(port))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, slog.New(slog.NewTextHandler(t.Output(), nil))) }()

	get := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, base+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if code, _ := get("GET", "/health/readiness"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	tests := []struct {
		name, method, path string
		want               int
		wantBody           string
	}{
		{name: "liveness", method: "GET", path: "/health/liveness", want: 200, wantBody: `"ok":true`},
		{name: "operation", method: "POST", path: "/payment/create_user", want: 200, wantBody: `"user_id"`},
		{name: "unknown route", method: "GET", path: "/nope", want: 404, wantBody: `"error"`},
		// After the operation above: its counter is exported.
		{name: "metrics", method: "GET", path: "/metrics",
			want: 200, wantBody: `wdm_http_requests_total{code="200",operation="payment-create-user"} 1`},
	}
	for _, tt := range tests {
		if code, body := get(tt.method, tt.path); code != tt.want || !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s: %s %s = %d %s", tt.name, tt.method, tt.path, code, body)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after shutdown")
	}
	if code, _ := get("GET", "/health/liveness"); code != 0 {
		t.Fatalf("still serving after shutdown: %d", code)
	}
}
