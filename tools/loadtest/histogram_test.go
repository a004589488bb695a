package loadtest

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	uniform := func(h *Histogram) { // 1 ms … 1000 ms, one each
		for i := 1; i <= 1000; i++ {
			h.Record(time.Duration(i) * time.Millisecond)
		}
	}
	tests := []struct {
		name   string
		sub    uint
		fill   func(h *Histogram)
		q      float64
		want   time.Duration
		relErr float64 // allowed error relative to want
	}{
		{"empty answers 0", 7, func(*Histogram) {}, 0.99, 0, 0},
		{"one value is every quantile", 7, func(h *Histogram) { h.Record(42 * time.Millisecond) }, 0.5, 42 * time.Millisecond, 0.008},
		{"small values are exact", 7, func(h *Histogram) {
			for i := 1; i <= 100; i++ {
				h.Record(time.Duration(i) * time.Microsecond)
			}
		}, 0.5, 50 * time.Microsecond, 0},
		{"p50 of uniform", 7, uniform, 0.5, 500 * time.Millisecond, 0.008},
		{"p95 of uniform", 7, uniform, 0.95, 950 * time.Millisecond, 0.008},
		{"p99 of uniform", 7, uniform, 0.99, 990 * time.Millisecond, 0.008},
		{"p100 is the max", 7, uniform, 1, 1000 * time.Millisecond, 0},
		{"coarse p99 within 3 %", 5, uniform, 0.99, 990 * time.Millisecond, 0.032},
		{"p99 of a slow tail", 7, func(h *Histogram) {
			for range 980 {
				h.Record(2 * time.Millisecond)
			}
			for range 20 {
				h.Record(3 * time.Second)
			}
		}, 0.99, 3 * time.Second, 0},
		{"values past an hour count as an hour", 7, func(h *Histogram) { h.Record(5 * time.Hour) }, 0.5, time.Hour, 0},
		{"negative durations count as 0", 7, func(h *Histogram) { h.Record(-time.Second) }, 0.5, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistogram(tt.sub)
			tt.fill(h)
			got := h.Quantile(tt.q)
			// Quantiles err on the slow side, never past the max.
			if got < tt.want || float64(got-tt.want) > tt.relErr*float64(tt.want) {
				t.Errorf("Quantile(%v) = %v, want %v (+%.1f%%)", tt.q, got, tt.want, tt.relErr*100)
			}
			if got > h.Max() {
				t.Errorf("Quantile(%v) = %v is past Max %v", tt.q, got, h.Max())
			}
		})
	}
}

// Every value falls in a bucket whose upper bound is at or above it and
// within the precision, and buckets tile without gaps.
func TestHistogramBuckets(t *testing.T) {
	for _, sub := range []uint{5, 7} {
		h := NewHistogram(sub)
		prev := -1
		for v := uint64(0); v < 1<<22; v += 1 + v/1000 {
			i := h.index(v)
			if i < prev {
				t.Fatalf("sub %d: value %d in bucket %d, below the bucket %d of a smaller value", sub, v, i, prev)
			}
			up := h.upper(i)
			if up < v {
				t.Fatalf("sub %d: value %d in bucket %d with upper bound %d", sub, v, i, up)
			}
			if i > 0 && h.upper(i-1) >= v {
				t.Fatalf("sub %d: value %d in bucket %d, but bucket %d reaches %d", sub, v, i, i-1, h.upper(i-1))
			}
			if rel := float64(up-v) / math.Max(float64(v), 1); rel > 1/math.Pow(2, float64(sub)) {
				t.Fatalf("sub %d: value %d reported as %d (%.2f%% off)", sub, v, up, rel*100)
			}
			prev = i
		}
		if got, want := len(h.counts), h.index(maxMicros)+1; got != want {
			t.Errorf("sub %d: %d counters, want %d", sub, got, want)
		}
	}
}

func TestHistogramMerge(t *testing.T) {
	tests := []struct {
		name     string
		sub      uint
		otherSub uint
	}{
		{"same precision", 7, 7},
		{"coarse into fine", 7, 5},
		{"fine into coarse", 5, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := NewHistogram(tt.sub), NewHistogram(tt.otherSub)
			for i := 1; i <= 500; i++ {
				a.Record(time.Duration(i) * time.Millisecond)
				b.Record(time.Duration(i+500) * time.Millisecond)
			}
			a.Merge(b)
			if a.Count() != 1000 {
				t.Errorf("Count = %d, want 1000", a.Count())
			}
			if a.Max() != time.Second {
				t.Errorf("Max = %v, want 1s", a.Max())
			}
			if got := a.Quantile(0.5); got < 500*time.Millisecond || got > 520*time.Millisecond {
				t.Errorf("p50 = %v, want ≈ 500ms", got)
			}
			if got := a.Mean(); got < 500*time.Millisecond || got > 501*time.Millisecond {
				t.Errorf("Mean = %v, want 500.5ms", got)
			}
		})
	}
}
