package loadtest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/local/stack"
)

// Every workload for a few seconds against a real local stack: the run
// passes (no unexpected failure, the audit consistent) and measures
// something.
func TestWorkloadsAgainstStack(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "wdm-bench-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755) // the postgres user must reach its data folder
	logFile, err := os.Create(filepath.Join(dir, "stack.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		logFile.Close()
		if t.Failed() {
			t.Logf("stack logs kept in %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	// The shop's module, whose commands the stack builds: tools/ is a module
	// of its own, so the nearest go.mod above this folder is not the shop's.
	shop, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	st, err := stack.Start(ctx, stack.Options{
		ModuleDir:   shop,
		Dir:         filepath.Join(dir, "stack"),
		GatewayAddr: "127.0.0.1:0",
		BinDir:      filepath.Join(os.TempDir(), "wdm-e2e-bin"),
		Log:         slog.New(slog.NewJSONHandler(logFile, nil)),
	})
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	defer st.Stop()
	t.Logf("stack ready in %.1f s at %s", time.Since(began).Seconds(), st.GatewayURL())

	tests := []struct {
		workload string
		clients  int
	}{
		{Flow, 4},
		{Checkout, 8},
		{Mixed, 4},
	}
	for _, tt := range tests {
		t.Run(tt.workload, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Workload, cfg.Gateway, cfg.Clients, cfg.Duration = tt.workload, st.GatewayURL(), tt.clients, 3*time.Second
			cfg.Items, cfg.Users = 50, 50
			cfg.BatchOrders, cfg.BatchItems, cfg.BatchUsers, cfg.AuditSample = 5000, 5000, 5000, 200
			var progress strings.Builder
			cfg.Progress = &progress
			s, err := Run(ctx, cfg)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, progress.String())
			}
			var report strings.Builder
			s.Report(&report)
			t.Log(progress.String() + report.String())
			if !s.Passed {
				t.Errorf("run failed: %v", s.Reasons)
			}
			if n := s.Failures.Unexpected(); n != 0 {
				t.Errorf("%d unexpected failures: %v", n, s.Failures.Samples)
			}
			if !s.Audit.Consistent {
				t.Errorf("audit: %v", s.Audit.Problems)
			}
			if s.Checkouts == 0 || s.Audit.PaidOrders == 0 {
				t.Errorf("%d checkouts answered 200, %d orders paid: want some", s.Checkouts, s.Audit.PaidOrders)
			}
			if tt.workload == Mixed && s.Failures.Expected4xx == 0 {
				t.Error("no must-fail checkout was refused")
			}
			if err := s.WriteFiles(t.TempDir()); err != nil {
				t.Error(err)
			}
		})
	}
}
