package procsched_test

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/internal/procsched"
)

// child starts a process under s and returns the timer slack (ns) and
// scheduling policy it reports for itself.
func child(t *testing.T, s procsched.Settings) (slack int64, policy int) {
	t.Helper()
	var out bytes.Buffer
	// It reads its settings after a pause and dies with the thread that
	// forked it (Pdeathsig, as the stack's supervisor asks): Start must not
	// let that thread end.
	cmd := exec.Command("sh", "-c", "sleep 0.2; cat /proc/self/timerslack_ns; grep '^policy' /proc/self/sched")
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := procsched.Start(cmd, s); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^(\d+)\npolicy\s*:\s*(\d+)\n$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("unexpected output %q", out.String())
	}
	slack, _ = strconv.ParseInt(m[1], 10, 64)
	policy, _ = strconv.Atoi(m[2])
	return slack, policy
}

func TestStart(t *testing.T) {
	const other, batch = 0, 3 // SCHED_OTHER, SCHED_BATCH
	before, _ := os.ReadFile("/proc/self/timerslack_ns")
	defaultSlack, err := strconv.ParseInt(string(bytes.TrimSpace(before)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		settings   procsched.Settings
		wantSlack  int64
		wantPolicy int
	}{
		{"zero settings inherit ours", procsched.Settings{}, defaultSlack, other},
		{"timer slack", procsched.Settings{TimerSlack: 3 * time.Millisecond}, 3_000_000, other},
		{"batch", procsched.Settings{Batch: true}, defaultSlack, batch},
		{"both", procsched.Settings{TimerSlack: 750 * time.Microsecond, Batch: true}, 750_000, batch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			slack, policy := child(t, c.settings)
			if slack != c.wantSlack || policy != c.wantPolicy {
				t.Errorf("child has slack %d, policy %d; want %d, %d", slack, policy, c.wantSlack, c.wantPolicy)
			}
		})
	}
	// The settings went with the forking thread: ours, and the next
	// default child's, are untouched.
	after, _ := os.ReadFile("/proc/self/timerslack_ns")
	if !bytes.Equal(before, after) {
		t.Errorf("our timer slack changed from %s to %s", before, after)
	}
	if slack, policy := child(t, procsched.Settings{}); slack != defaultSlack || policy != other {
		t.Errorf("a later default child has slack %d, policy %d", slack, policy)
	}
}
