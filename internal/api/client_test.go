package api

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// freeAddr is a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestRedialRefused(t *testing.T) {
	dial := RedialRefused((&net.Dialer{}).DialContext, time.Second, 50*time.Millisecond, time.Second)
	tests := []struct {
		name       string
		listenIn   time.Duration // -1: never
		ctxTimeout time.Duration
		wantErr    error
		minTook    time.Duration // dialled again meanwhile
		maxTook    time.Duration
	}{
		{"listening at once", 0, time.Minute, nil, 0, 500 * time.Millisecond},
		{"listening after a moment", 300 * time.Millisecond, time.Minute, nil, 300 * time.Millisecond, time.Second},
		{"never listening: refused after the window", -1, time.Minute, syscall.ECONNREFUSED, 500 * time.Millisecond, 2 * time.Second},
		{"the caller gives up first", -1, 120 * time.Millisecond, syscall.ECONNREFUSED, 100 * time.Millisecond, 500 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := freeAddr(t)
			if tc.listenIn >= 0 {
				go func() {
					time.Sleep(tc.listenIn)
					l, err := net.Listen("tcp", addr)
					if err != nil {
						t.Error(err)
						return
					}
					t.Cleanup(func() { l.Close() })
				}()
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.ctxTimeout)
			defer cancel()
			start := time.Now()
			conn, err := dial(ctx, "tcp", addr)
			took := time.Since(start)
			if conn != nil {
				conn.Close()
			}
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("dial: %v", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("dial: %v, want %v", err, tc.wantErr)
			case took < tc.minTook || took > tc.maxTook:
				t.Fatalf("took %s, want %s to %s", took, tc.minTook, tc.maxTook)
			}
		})
	}
}
