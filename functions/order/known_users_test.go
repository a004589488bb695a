package order

import (
	"context"
	"errors"
	"testing"
)

// askedUsers is a Users that counts questions; it knows the users in exist.
type askedUsers struct {
	exist map[string]bool
	fail  bool
	asked int
}

func (a *askedUsers) UserExists(_ context.Context, id string) (bool, error) {
	a.asked++
	if a.fail {
		return false, errors.New("payment down")
	}
	return a.exist[id], nil
}

func TestKnownUsers(t *testing.T) {
	cases := []struct {
		name      string
		calls     []string
		limit     int
		wantAsked int
	}{
		{"a known user is asked about once", []string{"u", "u", "u"}, 10, 1},
		{"an unknown user is asked about every time", []string{"nobody", "nobody"}, 10, 2},
		{"past the limit it forgets and asks again", []string{"u", "v", "w", "u"}, 2, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inner := &askedUsers{exist: map[string]bool{"u": true, "v": true, "w": true}}
			k := NewKnownUsers(inner, c.limit)
			for _, id := range c.calls {
				got, err := k.UserExists(context.Background(), id)
				if err != nil || got != inner.exist[id] {
					t.Fatalf("UserExists(%q) = %v, %v", id, got, err)
				}
			}
			if inner.asked != c.wantAsked {
				t.Errorf("asked payment %d times, want %d", inner.asked, c.wantAsked)
			}
		})
	}
	t.Run("an error is not remembered", func(t *testing.T) {
		inner := &askedUsers{exist: map[string]bool{"u": true}, fail: true}
		k := NewKnownUsers(inner, 10)
		if _, err := k.UserExists(context.Background(), "u"); err == nil {
			t.Fatal("error swallowed")
		}
		inner.fail = false
		if ok, err := k.UserExists(context.Background(), "u"); !ok || err != nil || inner.asked != 2 {
			t.Errorf("after recovery = %v, %v, asked %d", ok, err, inner.asked)
		}
	})
}
