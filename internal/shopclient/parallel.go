package shopclient

import (
	"context"
	"fmt"
	"sync"
)

// ReadAll calls read for every id with conc callers at once and returns the
// results by id; the first error ends it.
func ReadAll[V any](ctx context.Context, ids []string, conc int, read func(context.Context, string) (V, error)) (map[string]V, error) {
	var mu sync.Mutex
	out := make(map[string]V, len(ids))
	err := ForEach(ctx, len(ids), conc, func(ctx context.Context, i int) error {
		v, err := read(ctx, ids[i])
		if err != nil {
			return fmt.Errorf("%s: %w", ids[i], err)
		}
		mu.Lock()
		out[ids[i]] = v
		mu.Unlock()
		return nil
	})
	return out, err
}

// ForEach calls f for 0..n-1 with conc callers at once; the first error
// ends it (the calls under way finish).
func ForEach(ctx context.Context, n, conc int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range max(conc, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}
