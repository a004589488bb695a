package loadtest

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Scaling is an autoscaling run on a cluster: the load client's rate and
// users (one value a second) and the pods of each Service, sampled every
// PodEvery seconds; both start at the same moment.
type Scaling struct {
	Title     string
	Requests  []float64 // requests/s
	Users     []float64 // simulated users
	LoadStart float64   // seconds after the first pod sample that the load began
	PodEvery  float64
	Pods      []ServicePods
}

// ServicePods is one Service's pod count at each sample.
type ServicePods struct {
	Service string
	Pods    []float64
}

// palette is matplotlib's tab10, for the Services' lines.
var palette = []color.Color{blue, orange, green, red,
	color.RGBA{0x94, 0x67, 0xbd, 0xff}, color.RGBA{0x8c, 0x56, 0x4b, 0xff}, color.RGBA{0xe3, 0x77, 0xc2, 0xff},
	color.RGBA{0x7f, 0x7f, 0x7f, 0xff}, color.RGBA{0xbc, 0xbd, 0x22, 0xff}, color.RGBA{0x17, 0xbe, 0xcf, 0xff}}

// ScalingChart draws the run as an SVG: requests/s and users above, pods
// per Service below, on one time axis.
func ScalingChart(s Scaling) ([]byte, error) {
	load := []series{
		{name: "requests/s", color: blue, values: s.Requests, start: s.LoadStart},
		{name: "users", color: green, dashed: true, values: s.Users, start: s.LoadStart},
	}
	var pods []series
	for i, sp := range s.Pods {
		pods = append(pods, series{name: sp.Service, color: palette[i%len(palette)], dashed: i >= len(palette),
			values: sp.Pods, every: s.PodEvery})
	}
	top, err := panel("per second", load)
	if err != nil {
		return nil, err
	}
	top.Title.Text = s.Title
	bottom, err := panel(fmt.Sprintf("pods (every %.0f s)", s.PodEvery), pods)
	if err != nil {
		return nil, err
	}
	// One time axis: both panels span the longer of the two.
	xticks := niceTicks(max(top.X.Max, bottom.X.Max))
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Max, p.X.Tick.Marker = xticks[len(xticks)-1], fixedTicks(xticks, "s")
	}
	c := vgsvg.New(chartWidth, chartHeight)
	drawPanels(c, top, bottom)
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
