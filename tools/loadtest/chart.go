package loadtest

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// series is one line of a chart panel.
type series struct {
	name   string
	color  color.Color
	dashed bool
	values []float64 // one per second, or one per every seconds
	// every is the seconds between values (0: one a second), start the
	// time of the first interval's start.
	every, start float64
}

// The series' colours (matplotlib's first four).
var (
	blue   = color.RGBA{0x1f, 0x77, 0xb4, 0xff}
	green  = color.RGBA{0x2c, 0xa0, 0x2c, 0xff}
	red    = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	orange = color.RGBA{0xff, 0x7f, 0x0e, 0xff}
)

// chartWidth and chartHeight are the chart's size: 900 × 600 px.
var chartWidth, chartHeight = vg.Points(675), vg.Points(450)

// Chart draws the run's timeline as an SVG with gonum's plot:
// requests/s and checkouts/s per second above, p50 and p99 latency per
// second below.
func Chart(s *Summary) ([]byte, error) {
	c := vgsvg.New(chartWidth, chartHeight)
	if err := drawChart(c, s); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// drawChart draws the chart on c, a canvas of any format.
func drawChart(c vg.CanvasSizer, s *Summary) error {
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
	rates := []series{{name: "requests/s", color: blue, values: req}}
	if anyPositive(chk) {
		rates = append(rates, series{name: "checkouts/s", color: green, values: chk})
	}
	lat := []series{{name: "p50 all", color: blue, values: p50}, {name: "p99 all", color: red, values: p99}}
	if anyPositive(cp99) {
		lat = append(lat, series{name: "p99 checkout", color: orange, dashed: true, values: cp99})
	}
	top, err := panel("per second", rates)
	if err != nil {
		return err
	}
	top.Title.Text = fmt.Sprintf("%s workload, %d clients: %.0f req/s, %.0f checkouts/s, p50 %.1f ms, p99 %.1f ms",
		s.Workload, s.Clients, s.RequestsPerS, s.CheckoutsPerS, s.Latency.P50Ms, s.Latency.P99Ms)
	bottom, err := panel("latency (ms)", lat)
	if err != nil {
		return err
	}

	drawPanels(c, top, bottom)
	return nil
}

// drawPanels draws the two panels one above the other on a white c.
func drawPanels(c vg.CanvasSizer, top, bottom *plot.Plot) {
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	plots := [][]*plot.Plot{{top}, {bottom}}
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: 2 * vg.Millimeter, PadBottom: 2 * vg.Millimeter, PadLeft: 2 * vg.Millimeter, PadRight: 6 * vg.Millimeter}
	for i, tile := range plot.Align(plots, tiles, dc) {
		plots[i][0].Draw(tile[0])
	}
}

func (s series) step() float64 {
	if s.every > 0 {
		return s.every
	}
	return 1
}

func anyPositive(v []float64) bool {
	for _, x := range v {
		if x > 0 {
			return true
		}
	}
	return false
}

// panel plots series along the seconds, with horizontal grid lines at
// round values and a legend entry for every series that has values.
func panel(ylabel string, ss []series) (*plot.Plot, error) {
	p := plot.New()
	for _, sty := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		sty.Font.Variant = "Sans"
	}
	p.Y.Label.Text = ylabel
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs, p.Legend.Padding = 2*vg.Millimeter, -vg.Millimeter, vg.Points(2)

	end := 0.0 // the last value's time
	ymax := 0.0
	for _, s := range ss {
		end = max(end, s.start+s.step()*float64(len(s.values)))
		for _, v := range s.values {
			ymax = math.Max(ymax, v)
		}
	}
	yticks := niceTicks(ymax)
	xticks := niceTicks(max(end, 1))
	p.X.Min, p.X.Max = 0, xticks[len(xticks)-1]
	p.Y.Min, p.Y.Max = 0, yticks[len(yticks)-1]
	p.X.Tick.Marker = fixedTicks(xticks, "s")
	p.Y.Tick.Marker = fixedTicks(yticks, "")
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	grid.Horizontal = draw.LineStyle{Color: color.Gray{Y: 0xdd}, Width: vg.Points(0.75)}
	p.Add(grid)

	for _, s := range ss {
		if len(s.values) == 0 {
			continue
		}
		// Value j covers the interval (j, j+1] steps after start: its
		// point sits at its end.
		pts := make(plotter.XYs, len(s.values))
		for j, v := range s.values {
			pts[j] = plotter.XY{X: s.start + s.step()*float64(j+1), Y: v}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("chart: %s: %w", s.name, err)
		}
		line.Color, line.Width = s.color, vg.Points(1.4)
		if s.dashed {
			line.Dashes = []vg.Length{vg.Points(4.5), vg.Points(3)}
		}
		p.Add(line)
		p.Legend.Add(s.name, line)
	}
	return p, nil
}

// fixedTicks marks an axis at ticks, each labelled with its value and
// suffix, whatever range the plot asks for (the axis is set to span them).
func fixedTicks(ticks []float64, suffix string) plot.Ticker {
	return plot.TickerFunc(func(float64, float64) []plot.Tick {
		marks := make([]plot.Tick, len(ticks))
		for i, t := range ticks {
			marks[i] = plot.Tick{Value: t, Label: tickLabel(t) + suffix}
		}
		return marks
	})
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
