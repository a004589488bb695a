package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/local/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestRun wires the settings, the Trigger folders and the broker together:
// an event posted to the ingress reaches the subscriber a Trigger names, and
// the one an extra folder's Trigger names by absolute uri (how a test adds
// a consumer), and the process stops cleanly when its context ends.
func TestRun(t *testing.T) {
	got := make(chan string, 2)
	sub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Path + " " + r.Header.Get("Ce-Id")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer sub.Close()
	subURL := sub.URL

	name := "cmdtest" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
	// The shop's folder names the subscriber by a ref (SUBSCRIBER_URLS
	// resolves it), the extra folder by an absolute uri.
	dir := triggerFolder(t, name, "echo",
		"{ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: echo}, uri: /events/echo}")
	extra := triggerFolder(t, name, "extra", `{uri: "`+subURL+`/extra"}`)
	t.Setenv("AMQP_URL", testenv.AMQPURL(t))
	t.Setenv("BROKER_PORT", "0")
	t.Setenv("TRIGGERS_DIR", dir+string(os.PathListSeparator)+extra)
	t.Setenv("BROKER_NAME", name)
	t.Setenv("SUBSCRIBER_URLS", "echo="+subURL)
	t.Setenv("LOG_LEVEL", "warn")

	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	exited := make(chan error, 1)
	go func() { exited <- run(ctx, listening) }()
	var addr string
	select {
	case addr = <-listening:
	case err := <-exited:
		t.Fatalf("run: %v", err)
	}

	// The ingress answers 503 until RabbitMQ is connected; retry briefly.
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/", strings.NewReader(`{}`))
		for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "e1", "Ce-Source": "/t", "Ce-Type": "shop.test", "Content-Type": "application/json"} {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusAccepted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingress status = %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := map[string]bool{"/events/echo e1": true, "/extra e1": true}
	for range want {
		select {
		case g := <-got:
			if !want[g] {
				t.Errorf("subscriber got %q, want one of %v", g, want)
			}
			delete(want, g)
		case <-time.After(30 * time.Second):
			t.Fatalf("event not delivered to %v", want)
		}
	}
	// Prometheus scrapes the ingress port.
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `wdm_broker_published_total{source="ingress"} 1`; resp.StatusCode != 200 || !strings.Contains(string(body), want) {
		t.Errorf("GET /metrics = %d, want %q in:\n%s", resp.StatusCode, want, body)
	}
	cancel()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

// triggerFolder writes a folder holding one Trigger on broker for type
// shop.test, delivering to subscriber (a YAML flow mapping).
func triggerFolder(t *testing.T, broker, name, subscriber string) string {
	t.Helper()
	dir := t.TempDir()
	trigger := `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ` + name + `}
spec:
  broker: ` + broker + `
  filter: {attributes: {type: shop.test}}
  subscriber: ` + subscriber + "\n"
	if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(trigger), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"no AMQP_URL", map[string]string{"AMQP_URL": ""}},
		{"missing folder", map[string]string{"TRIGGERS_DIR": filepath.Join(t.TempDir(), "nope")}},
		{"missing extra folder", map[string]string{"TRIGGERS_DIR": t.TempDir() + string(os.PathListSeparator) + filepath.Join(t.TempDir(), "nope")}},
		{"bad subscriber list", map[string]string{"SUBSCRIBER_URLS": "stock-reserve"}},
		{"unresolved subscriber", map[string]string{"TRIGGERS_DIR": "../../knative/base", "SUBSCRIBER_URLS": ""}},
		{"bad log level", map[string]string{"LOG_LEVEL": "loud"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/")
			t.Setenv("TRIGGERS_DIR", t.TempDir())
			t.Setenv("BROKER_PORT", "0")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			if v, ok := tc.env["AMQP_URL"]; ok && v == "" {
				os.Unsetenv("AMQP_URL") // t.Setenv restores it afterwards
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := run(ctx, nil); err == nil {
				t.Fatal("run accepted bad settings")
			}
		})
	}
}
