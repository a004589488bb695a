// Package loadtest is the web shop's load client (tools/cmd/bench): closed-loop
// workloads against a gateway, latency histograms per endpoint and per
// second, failure accounting, a consistency audit, a JSON summary and an SVG
// chart.
package loadtest

import (
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram counts latencies in microseconds in an HDR histogram of
// histogramDigits significant digits: values below 256 µs are exact, larger
// ones are reported at most 1/128 (0.8 %) above their value. Beside the
// library's buckets it keeps the exact max and sum, which the library only
// approximates from bucket bounds.
type Histogram struct {
	counts buckets
	sum    uint64 // µs, for the mean
	max    uint64 // µs, exact
}

// buckets is what both kinds of hdrhistogram-go histogram offer.
type buckets interface {
	RecordValues(v, n int64) error
	ValueAtPercentile(percentile float64) int64
	TotalCount() int64
}

// histogramDigits is the precision: 2 digits are the 2^8 sub-buckets per
// power of two that keep every reported value within 0.8 %.
const histogramDigits = 2

// maxMicros caps recorded values (one hour); longer ones count as one hour.
const maxMicros = uint64(time.Hour / time.Microsecond)

// NewHistogram returns an empty histogram of a fixed size (a few thousand
// counters), the fastest to record into: a run of any length takes the same
// memory.
func NewHistogram() *Histogram {
	return &Histogram{counts: hdrhistogram.New(1, int64(maxMicros), histogramDigits)}
}

// NewSparseHistogram returns an empty histogram of the same precision whose
// memory grows with the buckets it uses, for the per-second histograms a
// long run keeps one of for every second.
func NewSparseHistogram() *Histogram {
	return &Histogram{counts: hdrhistogram.NewPacked(1, int64(maxMicros), histogramDigits)}
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := min(uint64(max(d, 0)/time.Microsecond), maxMicros)
	// Cannot fail: v is within the range the histogram was made for.
	_ = h.counts.RecordValues(int64(v), 1)
	h.sum += v
	h.max = max(h.max, v)
}

// Merge adds every value of o (of either kind) to h.
func (h *Histogram) Merge(o *Histogram) {
	// Both kinds have the same buckets, so a bucket's lowest value lands in
	// the same bucket of h.
	add := func(value, count int64) bool {
		_ = h.counts.RecordValues(value, count) // within range: o has the same one
		return true
	}
	switch c := o.counts.(type) {
	case *hdrhistogram.Histogram:
		for _, bar := range c.Distribution() {
			if bar.Count > 0 {
				add(bar.From, bar.Count)
			}
		}
	case *hdrhistogram.PackedHistogram:
		c.ForEachBucket(add)
	}
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Count is how many values were recorded.
func (h *Histogram) Count() uint64 { return uint64(h.counts.TotalCount()) }

// Max is the largest value recorded, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Mean is the average value; 0 when empty.
func (h *Histogram) Mean() time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum/n) * time.Microsecond
}

// Quantile is the upper bound of the bucket below or at which a fraction q of
// the values lie (q in [0,1]), erring on the slow side as latency
// percentiles should; never above Max. 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	// rank is 1-based and rounded up: the p50 of 1..100 is the 50th value,
	// the p99 of 1..1001 the 991st. The library rounds its rank to the
	// nearest, so it is handed the percentile of exactly this rank.
	rank := min(max(uint64(math.Ceil(q*float64(n))), 1), n)
	v := h.counts.ValueAtPercentile(100 * float64(rank) / float64(n))
	return time.Duration(min(uint64(v), h.max)) * time.Microsecond
}
