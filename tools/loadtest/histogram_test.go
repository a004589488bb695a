package loadtest

import (
	"math"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func TestHistogramQuantiles(t *testing.T) {
	uniform := func(h *Histogram) { // 1 ms … 1000 ms, one each
		for i := 1; i <= 1000; i++ {
			h.Record(time.Duration(i) * time.Millisecond)
		}
	}
	tests := []struct {
		name   string
		newH   func() *Histogram
		fill   func(h *Histogram)
		q      float64
		want   time.Duration
		relErr float64 // allowed error relative to want
	}{
		{"empty answers 0", NewHistogram, func(*Histogram) {}, 0.99, 0, 0},
		{"one value is every quantile", NewHistogram, func(h *Histogram) { h.Record(42 * time.Millisecond) }, 0.5, 42 * time.Millisecond, 0.008},
		{"small values are exact", NewHistogram, func(h *Histogram) {
			for i := 1; i <= 100; i++ {
				h.Record(time.Duration(i) * time.Microsecond)
			}
		}, 0.5, 50 * time.Microsecond, 0},
		{"p50 of uniform", NewHistogram, uniform, 0.5, 500 * time.Millisecond, 0.008},
		{"p95 of uniform", NewHistogram, uniform, 0.95, 950 * time.Millisecond, 0.008},
		{"p99 of uniform", NewHistogram, uniform, 0.99, 990 * time.Millisecond, 0.008},
		{"p100 is the max", NewHistogram, uniform, 1, 1000 * time.Millisecond, 0},
		{"per-second (sparse) p99 within 3 %", NewSparseHistogram, uniform, 0.99, 990 * time.Millisecond, 0.032},
		{"p99 of a slow tail", NewHistogram, func(h *Histogram) {
			for range 980 {
				h.Record(2 * time.Millisecond)
			}
			for range 20 {
				h.Record(3 * time.Second)
			}
		}, 0.99, 3 * time.Second, 0},
		{"values past an hour count as an hour", NewHistogram, func(h *Histogram) { h.Record(5 * time.Hour) }, 0.5, time.Hour, 0},
		{"negative durations count as 0", NewHistogram, func(h *Histogram) { h.Record(-time.Second) }, 0.5, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.newH()
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
// within the precision, and buckets tile without gaps. The buckets are the
// library's; the test holds them to what the percentiles promise.
func TestHistogramBuckets(t *testing.T) {
	const sub = 7 // 2 significant digits: 2^7 sub-buckets per half power of two
	h := NewHistogram()
	var values []uint64
	for v := uint64(0); v < 1<<22; v += 1 + v/1000 {
		values = append(values, v)
		h.Record(time.Duration(v) * time.Microsecond)
	}
	dense := h.counts.(*hdrhistogram.Histogram)
	bars := dense.Distribution()
	for i := 1; i < len(bars); i++ {
		if bars[i].From != bars[i-1].To+1 {
			t.Fatalf("bucket %d starts at %d, but bucket %d ends at %d", i, bars[i].From, i-1, bars[i-1].To)
		}
	}
	i, prev := 0, -1
	for _, v := range values {
		for i < len(bars) && uint64(bars[i].To) < v {
			i++
		}
		if i == len(bars) {
			t.Fatalf("value %d in no bucket", v)
		}
		if i < prev {
			t.Fatalf("value %d in bucket %d, below the bucket %d of a smaller value", v, i, prev)
		}
		up := uint64(bars[i].To)
		if up < v {
			t.Fatalf("value %d in bucket %d with upper bound %d", v, i, up)
		}
		if i > 0 && uint64(bars[i-1].To) >= v {
			t.Fatalf("value %d in bucket %d, but bucket %d reaches %d", v, i, i-1, bars[i-1].To)
		}
		if rel := float64(up-v) / math.Max(float64(v), 1); rel > 1/math.Pow(2, sub) {
			t.Fatalf("value %d reported as %d (%.2f%% off)", v, up, rel*100)
		}
		prev = i
	}
	// The size is fixed: recording the largest value grows nothing.
	size := dense.ByteSize()
	if err := dense.RecordValue(int64(maxMicros)); err != nil {
		t.Errorf("an hour cannot be recorded: %v", err)
	}
	if got := dense.ByteSize(); got != size {
		t.Errorf("%d bytes after recording an hour, want %d", got, size)
	}
}

func TestHistogramMerge(t *testing.T) {
	tests := []struct {
		name  string
		newH  func() *Histogram
		other func() *Histogram
	}{
		{"same kind", NewHistogram, NewHistogram},
		{"sparse into dense", NewHistogram, NewSparseHistogram},
		{"dense into sparse", NewSparseHistogram, NewHistogram},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tt.newH(), tt.other()
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
