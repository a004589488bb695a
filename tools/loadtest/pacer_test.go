package loadtest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

func TestPacerSlots(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return start.Add(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		name string
		rate float64
		nows []time.Time // the clock at each slot request
		want []time.Time // the slots handed out
	}{
		{"on schedule", 10, []time.Time{ms(0), ms(0), ms(0)}, []time.Time{ms(0), ms(100), ms(200)}},
		{"callers ahead of the schedule wait", 4, []time.Time{ms(0), ms(10), ms(20)}, []time.Time{ms(0), ms(250), ms(500)}},
		// Every client was busy for 5 s: one second of rounds is still
		// owed, the four before it are dropped.
		{"a long stall drops what is over a second late", 10, []time.Time{ms(0), ms(5000), ms(5000)}, []time.Time{ms(0), ms(4000), ms(4100)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer(start, tt.rate)
			for i, now := range tt.nows {
				p.now = func() time.Time { return now }
				if got := p.slot(); !got.Equal(tt.want[i]) {
					t.Errorf("slot %d at %v: %v, want %v", i, now.Sub(start), got.Sub(start), tt.want[i].Sub(start))
				}
			}
		})
	}
	if newPacer(start, 0) != nil {
		t.Error("rate 0 must mean no pacing")
	}
}

// A paced run starts about rate rounds per second, however fast the shop
// answers; a closed-loop run against the same shop does many more.
func TestRunPaced(t *testing.T) {
	srv := httptest.NewServer(newFakeShop().handler())
	defer srv.Close()
	run := func(rate float64) *Summary {
		cfg := DefaultConfig()
		cfg.Workload, cfg.Gateway, cfg.Clients, cfg.Duration, cfg.Rate = Flow, srv.URL, 8, 2*time.Second, rate
		cfg.Items, cfg.Users = 20, 10
		var phases []bool
		cfg.Phase = func(measuring bool) { phases = append(phases, measuring) }
		s, err := Run(context.Background(), cfg)
		if len(phases) != 2 || !phases[0] || phases[1] {
			t.Errorf("phases %v, want [true false]", phases)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !s.Passed {
			t.Fatalf("run failed: %v", s.Reasons)
		}
		return s
	}
	paced := run(25)
	// 2 s at 25 flows/s, one checkout each; rounds cut off at the end
	// and a busy machine allow some slack.
	if paced.Checkouts < 35 || paced.Checkouts > 52 {
		t.Errorf("paced at 25/s for 2 s: %d checkouts, want about 50", paced.Checkouts)
	}
	if paced.Rate != 25 {
		t.Errorf("summary rate %v, want 25", paced.Rate)
	}
	if free := run(0); free.Checkouts < 3*paced.Checkouts {
		t.Errorf("closed loop made %d checkouts, paced %d: pacing seems to hold nothing back", free.Checkouts, paced.Checkouts)
	}
}
