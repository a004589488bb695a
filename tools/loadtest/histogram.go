// Package loadtest is the web shop's load client (tools/cmd/bench): closed-loop
// workloads against a gateway, latency histograms per endpoint and per
// second, failure accounting, a consistency audit, a JSON summary and an SVG
// chart.
package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// Histogram counts latencies in log-linear buckets, like an HDR histogram:
// values below 2^(sub+1) µs are exact, larger ones fall in buckets that are
// at most 1/2^sub of their value wide. Its size is fixed (a few thousand
// counters), so a run of any length takes the same memory.
type Histogram struct {
	sub    uint     // sub-bucket bits: 7 gives ≤ 0.8 % error, 5 gives ≤ 3 %
	counts []uint64 // by bucket index
	n      uint64
	sum    uint64 // µs, for the mean
	max    uint64 // µs, exact
}

// maxMicros caps recorded values (one hour); longer ones count as one hour.
const maxMicros = uint64(time.Hour / time.Microsecond)

// NewHistogram returns an empty histogram with 2^sub sub-buckets per power
// of two.
func NewHistogram(sub uint) *Histogram {
	h := &Histogram{sub: sub}
	h.counts = make([]uint64, h.index(maxMicros)+1)
	return h
}

// index is the bucket of v µs: e*2^sub + v>>e, where e is how many low bits
// the bucket ignores (0 for the exact range). Consecutive ranges tile: the
// range of e starts where e-1 ended.
func (h *Histogram) index(v uint64) int {
	e := bits.Len64(v) - int(h.sub+1)
	if e < 0 {
		e = 0
	}
	return e<<h.sub + int(v>>uint(e))
}

// upper is the largest value that falls in bucket i, the value a quantile
// reports (latency percentiles should err on the slow side).
func (h *Histogram) upper(i int) uint64 {
	size := 1 << h.sub
	if i < 2*size {
		return uint64(i)
	}
	e := uint(i>>h.sub) - 1
	mant := uint64(i - int(e)<<h.sub) // in [2^sub, 2^(sub+1))
	return (mant+1)<<e - 1
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0) / time.Microsecond)
	if v > maxMicros {
		v = maxMicros
	}
	h.counts[h.index(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

// Merge adds every value of o (recorded with any precision) to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.sub == h.sub {
		for i, c := range o.counts {
			h.counts[i] += c
		}
	} else {
		for i, c := range o.counts {
			if c > 0 {
				h.counts[h.index(o.upper(i))] += c
			}
		}
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Count is how many values were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest value recorded, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Mean is the average value; 0 when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/h.n) * time.Microsecond
}

// Quantile is the smallest bucket bound below or at which a fraction q of
// the values lie (q in [0,1]); never above Max. 0 when empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	// rank is 1-based: the p50 of 1..100 is the 50th value.
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(h.upper(i), h.max)) * time.Microsecond
		}
	}
	return h.Max()
}
