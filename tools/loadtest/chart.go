package loadtest

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strings"
)

// series is one line of a chart panel.
type series struct {
	name   string
	color  string
	dashed bool
	values []float64 // one per second
}

// Chart draws the run's timeline as an SVG: requests/s and checkouts/s per
// second above, p50 and p99 latency per second below. Written by hand: a
// plotting library would pull in fonts and image packages for two line
// charts.
func Chart(s *Summary) []byte {
	n := len(s.Timeline)
	req := make([]float64, n)
	chk := make([]float64, n)
	p50 := make([]float64, n)
	p99 := make([]float64, n)
	cp99 := make([]float64, n)
	for i, t := range s.Timeline {
		req[i], chk[i] = float64(t.Requests), float64(t.Checkouts)
		p50[i], p99[i], cp99[i] = t.P50Ms, t.P99Ms, t.CheckoutP99Ms
	}
	const width, height = 900, 600
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	title := fmt.Sprintf("%s workload, %d clients: %.0f req/s, %.0f checkouts/s, p50 %.1f ms, p99 %.1f ms",
		s.Workload, s.Clients, s.RequestsPerS, s.CheckoutsPerS, s.Latency.P50Ms, s.Latency.P99Ms)
	fmt.Fprintf(&b, `<text x="%d" y="22" text-anchor="middle" font-size="15">%s</text>`+"\n", width/2, html.EscapeString(title))
	rates := []series{{"requests/s", "#1f77b4", false, req}}
	if anyPositive(chk) {
		rates = append(rates, series{"checkouts/s", "#2ca02c", false, chk})
	}
	lat := []series{{"p50 all", "#1f77b4", false, p50}, {"p99 all", "#d62728", false, p99}}
	if anyPositive(cp99) {
		lat = append(lat, series{"p99 checkout", "#ff7f0e", true, cp99})
	}
	panel(&b, 40, 290, width, "per second", rates)
	panel(&b, 320, 570, width, "latency (ms)", lat)
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func anyPositive(v []float64) bool {
	for _, x := range v {
		if x > 0 {
			return true
		}
	}
	return false
}

// panel draws series between y top and bottom, x along the seconds.
func panel(b *bytes.Buffer, top, bottom, width int, ylabel string, ss []series) {
	const left, right = 70, 30
	plotW, plotH := float64(width-left-right), float64(bottom-top)
	n := 0
	ymax := 0.0
	for _, s := range ss {
		n = max(n, len(s.values))
		for _, v := range s.values {
			ymax = math.Max(ymax, v)
		}
	}
	yticks := niceTicks(ymax)
	ytop := yticks[len(yticks)-1]
	xticks := niceTicks(float64(max(n, 1)))
	xtop := xticks[len(xticks)-1]
	x := func(sec float64) float64 { return float64(left) + sec/xtop*plotW }
	y := func(v float64) float64 { return float64(bottom) - v/ytop*plotH }

	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.0f" height="%.0f" fill="none" stroke="#888"/>`+"\n", left, top, plotW, plotH)
	for _, t := range yticks {
		fmt.Fprintf(b, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, float64(left)+plotW, y(t), y(t))
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-5, y(t)+4, tickLabel(t))
	}
	for _, t := range xticks {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%ss</text>`+"\n", x(t), bottom+15, tickLabel(t))
	}
	fmt.Fprintf(b, `<text x="15" y="%d" transform="rotate(-90 15 %d)" text-anchor="middle">%s</text>`+"\n",
		(top+bottom)/2, (top+bottom)/2, ylabel)
	for i, s := range ss {
		// Second i covers (i, i+1]: its point sits at its end.
		pts := make([]string, len(s.values))
		for j, v := range s.values {
			pts[j] = fmt.Sprintf("%.1f,%.1f", x(float64(j+1)), y(v))
		}
		dash := ""
		if s.dashed {
			dash = ` stroke-dasharray="6 4"`
		}
		if len(pts) > 0 {
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1.8"%s points="%s"/>`+"\n", s.color, dash, strings.Join(pts, " "))
		}
		lx := left + 10 + i*140
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"%s/>`, lx, lx+20, top+14, top+14, s.color, dash)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", lx+25, top+18, html.EscapeString(s.name))
	}
}

// niceTicks returns 0 and evenly spaced round values up to at least top
// (1, 2 or 5 times a power of ten apart, about five of them).
func niceTicks(top float64) []float64 {
	if top <= 0 {
		return []float64{0, 1}
	}
	raw := top / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := p
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			step = m * p
			break
		}
	}
	ticks := []float64{0}
	for v := step; ; v += step {
		ticks = append(ticks, v)
		if v >= top*(1-1e-9) {
			return ticks
		}
	}
}

func tickLabel(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", v), "0"), ".")
}
