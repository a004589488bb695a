// Package soak watches a running stack under sustained load and decides
// whether it stayed flat: memory, goroutines, database connections and
// queue depths that do not creep up over the run, and no dead letters.
package soak

import (
	"fmt"
	"math"
)

// Rule says how much a series may rise from the first third of a run to
// the last third, and what no reading may ever exceed.
type Rule struct {
	// Growth and Slack bound the last third's mean: at most the first
	// third's mean × (1 + Growth) + Slack. Slack keeps small series (a queue
	// that holds 0 or 3 messages) from failing on noise.
	Growth, Slack float64
	// Ceiling, when Bounded, is what no reading may exceed.
	Ceiling float64
	Bounded bool
}

// Series is one quantity sampled over the run; NaN marks a failed reading.
type Series struct {
	Name   string
	Values []float64
	Rule   Rule
}

// Verdict is the judgement of one series.
type Verdict struct {
	Series    string  `json:"series"`
	Samples   int     `json:"samples"` // readings judged (after the warm-up)
	Failed    int     `json:"failed"`  // readings that could not be taken
	FirstMean float64 `json:"first_third_mean"`
	LastMean  float64 `json:"last_third_mean"`
	Allowed   float64 `json:"allowed_last_third_mean"`
	Max       float64 `json:"max"`
	Ceiling   float64 `json:"ceiling,omitempty"`
	OK        bool    `json:"ok"`
	Reason    string  `json:"reason,omitempty"`
}

// The judgement's constants.
const (
	// warmupFraction of the readings is left out at the start: caches,
	// pools and heaps grow to their working size first.
	warmupFraction = 0.1
	// minSamples after the warm-up: fewer give thirds of one reading.
	minSamples = 6
	// maxFailedFraction of the readings may fail (a scrape timing out on a
	// busy machine) before the series counts as not watched.
	maxFailedFraction = 0.1
)

// Judge decides whether s stayed flat: the warm-up left out, the last
// third's mean within the rule's growth of the first third's; no reading
// (warm-up included) above the ceiling; and few failed readings.
func Judge(s Series) Verdict {
	v := Verdict{Series: s.Name, Ceiling: s.Rule.Ceiling}
	values := s.Values[int(float64(len(s.Values))*warmupFraction):]
	var ok []float64
	for _, x := range values {
		if math.IsNaN(x) {
			v.Failed++
			continue
		}
		ok = append(ok, x)
	}
	v.Samples = len(values)
	if len(ok) < minSamples {
		v.Reason = fmt.Sprintf("%d readings after the warm-up, want at least %d: run longer or sample more often", len(ok), minSamples)
		return v
	}
	third := len(ok) / 3
	v.FirstMean, v.LastMean = mean(ok[:third]), mean(ok[len(ok)-third:])
	v.Allowed = v.FirstMean*(1+s.Rule.Growth) + s.Rule.Slack
	// The ceiling holds from the first reading on: a dead letter in the
	// warm-up is one too many.
	v.Max = math.Inf(-1)
	for _, x := range s.Values {
		if !math.IsNaN(x) {
			v.Max = max(v.Max, x)
		}
	}
	switch {
	case float64(v.Failed) > maxFailedFraction*float64(v.Samples):
		v.Reason = fmt.Sprintf("%d of %d readings failed", v.Failed, v.Samples)
	case s.Rule.Bounded && v.Max > s.Rule.Ceiling:
		v.Reason = fmt.Sprintf("reached %g, above the ceiling %g", v.Max, s.Rule.Ceiling)
	case v.LastMean > v.Allowed:
		v.Reason = fmt.Sprintf("grew: last third's mean %.4g > %.4g allowed (first third's %.4g)", v.LastMean, v.Allowed, v.FirstMean)
	default:
		v.OK = true
	}
	return v
}

func mean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}
