package footprint

import (
	"os"
	"testing"
	"time"
)

func TestParseCPU(t *testing.T) {
	tests := []struct {
		name, stat string
		want       time.Duration
		wantErr    bool
	}{
		{"plain", "42 (kubelet) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0", 3 * time.Second, false},
		{"command with spaces and parens", "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 0 0", 20 * time.Millisecond, false},
		{"no command", "garbage", 0, true},
		{"short", "1 (x) S 1", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCPU(tc.stat)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestTakeCountsThisProcess(t *testing.T) {
	s := Take([]int{os.Getpid(), -1})
	if s.Processes != 1 || s.PSSBytes <= 0 {
		t.Fatalf("sample %+v, want this process with its memory", s)
	}
}
