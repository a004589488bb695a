package servers

import (
	"os"
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
