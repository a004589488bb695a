package procsched_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/local/procsched"
)

const other, batch = 0, 3 // SCHED_OTHER, SCHED_BATCH

// sched is what a child reports of itself.
type sched struct {
	slack  int64
	policy int
	nice   int
}

// child starts a process under s and returns what it reports of itself.
func child(t *testing.T, s procsched.Settings) sched {
	t.Helper()
	var out bytes.Buffer
	// It reads its settings after a pause and dies with the thread that
	// forked it (Pdeathsig, as the stack's supervisor asks): Start must not
	// let that thread end.
	cmd := exec.Command("sh", "-c", "sleep 0.2; cat /proc/self/timerslack_ns; grep '^policy' /proc/self/sched; cat /proc/self/stat")
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := procsched.Start(cmd, s); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("unexpected output %q", out.String())
	}
	var got sched
	var err1, err2, err3 error
	got.slack, err1 = strconv.ParseInt(lines[0], 10, 64)
	_, policy, _ := strings.Cut(lines[1], ":")
	got.policy, err2 = strconv.Atoi(strings.TrimSpace(policy))
	// stat: pid (comm) state ppid ... with nice the 19th field.
	stat := strings.Fields(lines[2][strings.LastIndexByte(lines[2], ')')+1:])
	if len(stat) > 16 {
		got.nice, err3 = strconv.Atoi(stat[16])
	} else {
		err3 = fmt.Errorf("short stat %q", lines[2])
	}
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("unexpected output %q: %v %v %v", out.String(), err1, err2, err3)
	}
	return got
}

func ownSlack(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/timerslack_ns")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStart(t *testing.T) {
	before := ownSlack(t)
	cases := []struct {
		name     string
		settings procsched.Settings
		want     sched
	}{
		{"zero settings inherit ours", procsched.Settings{}, sched{before, other, 0}},
		{"timer slack", procsched.Settings{TimerSlack: 3 * time.Millisecond}, sched{3_000_000, other, 0}},
		{"batch", procsched.Settings{Batch: true}, sched{before, batch, 0}},
		{"both", procsched.Settings{TimerSlack: 750 * time.Microsecond, Batch: true}, sched{750_000, batch, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := child(t, c.settings); got != c.want {
				t.Errorf("child has %+v, want %+v", got, c.want)
			}
		})
	}
	// The settings went with the forking thread: ours, and the next
	// default child's, are untouched.
	if after := ownSlack(t); after != before {
		t.Errorf("our timer slack changed from %d to %d", before, after)
	}
	if got, want := child(t, procsched.Settings{}), (sched{before, other, 0}); got != want {
		t.Errorf("a later default child has %+v, want %+v", got, want)
	}
}

// A parent started with `nice` hands its nice value on: the settings change
// the policy, not the priority (lowering it would also need privilege).
func TestStartKeepsNice(t *testing.T) {
	if os.Getenv("PROCSCHED_NICED") == "1" {
		got := child(t, procsched.Settings{TimerSlack: 2 * time.Millisecond, Batch: true})
		fmt.Printf("child %d %d %d\n", got.slack, got.policy, got.nice)
		return
	}
	cmd := exec.Command("nice", "-n", "7", os.Args[0], "-test.run=^TestStartKeepsNice$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PROCSCHED_NICED=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := fmt.Sprintf("child %d %d %d\n", 2_000_000, batch, 7)
	if !strings.Contains(string(out), want) {
		t.Errorf("niced parent's child: got %s, want %q", out, want)
	}
}
