//go:build clustershop

package shop

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/netns"
)

// kpaView is what Knative's autoscaler decided for one Service at one
// tick, as its Prometheus endpoint reports it: the concurrency it observed
// over the stable and the panic window (all pods together), its target per
// pod (the target annotation times the utilisation), and the pods it wants
// (the observed concurrency over the target, rounded up, within the
// Service's scale bounds).
type kpaView struct {
	Stable, Panic, Target, Desired float64
}

// Exceeded reports whether the observed concurrency passed what n pods
// take at the target.
func (v kpaView) Exceeded(n int) bool {
	return v.Target > 0 && max(v.Stable, v.Panic) > v.Target*float64(n)
}

var kpaLine = regexp.MustCompile(`^autoscaler_(stable_request_concurrency|panic_request_concurrency|target_concurrency_per_pod|desired_pods)\{.*configuration_name="([^"]+)".*\} (\S+)$`)

// autoscalerViews reads the autoscaler's metrics (its Service in
// knative-serving, port 9090), from inside the cluster's network
// namespace, by Knative Service.
func autoscalerViews(ctx context.Context) (map[string]kpaView, error) {
	ip, err := k.Run(ctx, nil, "get", "svc", "-n", "knative-serving", "autoscaler", "-o", "jsonpath={.spec.clusterIP}")
	if err != nil {
		return nil, err
	}
	c := http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: netns.Namespace{Name: info.NetNS}.DialContext}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+string(ip)+":9090/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("autoscaler metrics: %s", resp.Status)
	}
	views := map[string]kpaView{}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 64<<10), 1<<20)
	for lines.Scan() {
		m := kpaLine.FindStringSubmatch(lines.Text())
		if m == nil {
			continue
		}
		f, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, fmt.Errorf("autoscaler metrics: %q: %w", lines.Text(), err)
		}
		v := views[m[2]]
		switch m[1] {
		case "stable_request_concurrency":
			v.Stable = f
		case "panic_request_concurrency":
			v.Panic = f
		case "target_concurrency_per_pod":
			v.Target = f
		case "desired_pods":
			v.Desired = f
		}
		views[m[2]] = v
	}
	return views, lines.Err()
}
