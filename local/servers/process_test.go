package servers

import (
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"
)

func TestDirInUse(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		dir  string
		want bool
	}{
		{"this test works in its package folder", wd, true},
		{"nobody works in a fresh folder", t.TempDir(), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := dirInUse(c.dir); got != c.want {
				t.Fatalf("dirInUse(%s) = %v, want %v", c.dir, got, c.want)
			}
		})
	}
}

func TestGroupAlive(t *testing.T) {
	if !GroupAlive(syscall.Getpgrp()) {
		t.Fatal("this test's own process group is not seen alive")
	}
	if GroupAlive(1 << 30) {
		t.Fatal("a group no process has is seen alive")
	}
}

// TestFreePort: every port FreePort hands out can be bound, and lies below
// the kernel's ephemeral range, where no outgoing connection can take it
// before its server binds it.
func TestFreePort(t *testing.T) {
	low := ephemeralLow()
	for range 20 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if low-minPort >= 1000 && (port < minPort || port >= low) {
			t.Errorf("FreePort() = %d, want in [%d, %d)", port, minPort, low)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatalf("FreePort() = %d, which cannot be bound: %v", port, err)
		}
		l.Close()
	}
}
