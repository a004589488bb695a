//go:build clustershop

package shop

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/cluster/internal/netns"
	"github.com/wdm-knative/webshop/cluster/internal/proc"
	"github.com/wdm-knative/webshop/internal/shopclient"
)

// The Locust run: the 2024 test's user (CheckoutUser: batch_init once,
// then checkouts of random orders without pause; 20,000 orders, so that
// most checkouts of the run are first ones and run a saga) ramped up to
// locustUsers over the first locustRamp, held until locustRun ends. Its
// batch_init sizes are small so that setup and the audit take seconds.
const (
	locustUsers  = 128
	locustRamp   = 120 * time.Second
	locustRun    = 200 * time.Second
	locustOrders = 20000
	locustItems  = 1000
	locustUsersN = 1000
	startAmount  = 1_000_000 // stock of each item, credit of each user
	podEvery     = 5 * time.Second
	checkoutSvc  = "order-checkout"
)

// results is where the load tests keep what docs/cluster.md shows: CSVs,
// Locust's output and the chart (under the checkout's .wdm/, which git
// ignores).
func results(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(repoRoot, ".wdm", "cluster-test", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAutoscalingUnderLocust runs the project's locustfile
// (knative/loadtest) from inside the cluster's network namespace against
// Traefik's public Service, samples the pods of every Service every 5 s
// into pods.csv, and draws both into autoscaling.svg. The checkout path
// must scale above one pod while its concurrency target is exceeded and
// back down afterwards; Locust must see no failure, and the audit of every
// order batch_init made is exact.
func TestAutoscalingUnderLocust(t *testing.T) {
	locust, err := exec.LookPath("locust")
	if err != nil {
		t.Fatal("Locust is needed: apt-get install python3-locust (make cluster-test installs it)")
	}
	withAdminRoutes(t)
	dir := results(t, "autoscaling")
	ip, err := k.Run(context.Background(), nil, "get", "svc", "-n", "traefik", "traefik", "-o", "jsonpath={.spec.clusterIP}")
	if err != nil {
		t.Fatal(err)
	}

	sampler := samplePods(t, filepath.Join(dir, "pods.csv"))
	time.Sleep(3 * podEvery) // a baseline before the load
	args := []string{locust, "-f", filepath.Join(repoRoot, "knative/loadtest/locustfile.py"), "--headless",
		"--host", "http://" + string(ip), "-u", strconv.Itoa(locustUsers),
		"--spawn-rate", fmt.Sprintf("%.2f", float64(locustUsers)/locustRamp.Seconds()),
		"-t", fmt.Sprintf("%ds", int(locustRun.Seconds())), "--stop-timeout", "10",
		"--csv", filepath.Join(dir, "locust"), "--loglevel", "WARNING", "CheckoutUser"}
	inside := netns.Namespace{Name: info.NetNS}.Command(args...)
	cmd := exec.Command(inside[0], inside[1:]...)
	cmd.Env = append(os.Environ(), "WDM_ITEMS="+strconv.Itoa(locustItems), "WDM_USERS="+strconv.Itoa(locustUsersN),
		"WDM_ORDERS="+strconv.Itoa(locustOrders), "WDM_STARTING_STOCK="+strconv.Itoa(startAmount),
		"WDM_STARTING_CREDIT="+strconv.Itoa(startAmount), "WDM_ITEM_PRICE=1")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	t.Logf("locust: %d users over %s, %s in all, from namespace %s", locustUsers, locustRamp, locustRun, info.NetNS)
	runErr := cmd.Run()
	_ = os.WriteFile(filepath.Join(dir, "locust.log"), logs.Bytes(), 0o644)
	loadEnd := sampler.elapsed()
	if runErr != nil {
		t.Errorf("locust: %v\n%s", runErr, proc.LastLines(logs.Bytes(), 30))
	}

	// Back down: KPA keeps pods for its 60 s stable window, then Services
	// with min-scale 0 go to zero after their grace period.
	err = kube.Poll(context.Background(), 6*time.Minute, podEvery, func(context.Context) (bool, string, error) {
		n := sampler.last(checkoutSvc)
		return n <= 1, fmt.Sprintf("%s has %d pods", checkoutSvc, n), nil
	})
	time.Sleep(2 * podEvery)
	sampler.stop()
	if err != nil {
		t.Errorf("no scale-down after the load: %v", err)
	}
	peak := sampler.peak(checkoutSvc)
	t.Logf("REPORT %s: peak %d pods under load, %d pods %s after the load ended", checkoutSvc, peak,
		sampler.last(checkoutSvc), (sampler.elapsed() - loadEnd).Round(time.Second))
	if peak <= 1 {
		t.Errorf("%s never had more than %d pod under %d users", checkoutSvc, peak, locustUsers)
	}
	if v, ok := sampler.exceeded(); !ok {
		t.Errorf("the autoscaler never saw %s's concurrency pass its target (kpa.csv)", checkoutSvc)
	} else {
		t.Logf("REPORT %s: the autoscaler saw concurrency %.1f (stable) / %.1f (panic) against a target of %.1f per pod and wanted %.0f pods",
			checkoutSvc, v.Stable, v.Panic, v.Target, v.Desired)
	}

	stats := locustTotals(t, filepath.Join(dir, "locust_stats.csv"))
	t.Logf("REPORT locust: %s requests, %s failures, %s req/s; p50 %s ms, p95 %s ms, p99 %s ms",
		stats["Request Count"], stats["Failure Count"], stats["Requests/s"], stats["50%"], stats["95%"], stats["99%"])
	if stats["Failure Count"] != "0" {
		t.Errorf("Locust saw %s failures (locust_failures.csv)", stats["Failure Count"])
	}
	auditBatch(t, locustOrders)

	chart := exec.Command("go", "run", "./cmd/scalechart", "-pods", filepath.Join(dir, "pods.csv"),
		"-locust", filepath.Join(dir, "locust_stats_history.csv"), "-out", filepath.Join(dir, "autoscaling.svg"),
		"-title", fmt.Sprintf("Locust CheckoutUser, 0 to %d users over %s, through Traefik, activator and queue-proxy", locustUsers, locustRamp))
	chart.Dir = filepath.Join(repoRoot, "tools")
	if out, err := chart.CombinedOutput(); err != nil {
		t.Errorf("scalechart: %v\n%s", err, out)
	}
	t.Logf("REPORT chart: %s", filepath.Join(dir, "autoscaling.svg"))
}

// auditBatch audits the orders batch_init made (ids 0..orders-1), every
// item and user they name held to batch_init's uniform start.
func auditBatch(t *testing.T, orders int) {
	t.Helper()
	ids := make([]string, orders)
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	a, err := client.RunAudit(ctx, shopclient.AuditScope{Orders: ids, Before: shopclient.Before{
		Uniform: &shopclient.Uniform{Stock: startAmount, Price: 1, Credit: startAmount}}})
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	for _, p := range a.Problems {
		t.Error(p)
	}
	t.Logf("REPORT audit: %d of %d orders paid, stock value taken %d, credit taken %d, paid total %d",
		a.PaidOrders, orders, a.StockValueTaken, a.CreditTaken, a.PaidTotal)
	if a.PaidOrders == 0 {
		t.Error("no order was paid")
	}
}

// locustTotals reads the Aggregated row of Locust's stats CSV.
func locustTotals(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s: %v (%d rows)", path, err, len(rows))
	}
	for _, row := range rows[1:] {
		if len(row) == len(rows[0]) && row[1] == "Aggregated" {
			m := map[string]string{}
			for i, h := range rows[0] {
				m[h] = row[i]
			}
			return m
		}
	}
	t.Fatalf("%s: no Aggregated row", path)
	return nil
}

// podSampler writes the pods of every Knative Service of the shop to a
// CSV every podEvery: "unix,SERVICE,...", a row a sample.
type podSampler struct {
	begin    time.Time
	services []string
	stop     func() // ends the sampling and closes the CSV files

	mu      sync.Mutex
	history map[string][]int
	// kpa is the autoscaler's view of checkoutSvc at each sample.
	kpa []kpaView
}

// samplePods also writes the autoscaler's view of checkoutSvc into
// kpa.csv beside path.
func samplePods(t *testing.T, path string) *podSampler {
	t.Helper()
	var l ksvcList
	if err := k.Get(context.Background(), &l, "ksvc", "-n", ns); err != nil {
		t.Fatal(err)
	}
	s := &podSampler{begin: time.Now(), history: map[string][]int{}}
	for _, svc := range l.Items {
		s.services = append(s.services, svc.Metadata.Name)
	}
	slices.Sort(s.services)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := os.Create(filepath.Join(filepath.Dir(path), "kpa.csv"))
	if err != nil {
		t.Fatal(err)
	}
	w, kw := csv.NewWriter(f), csv.NewWriter(kf)
	_ = w.Write(append([]string{"unix"}, s.services...))
	_ = kw.Write([]string{"unix", "service", "stable_concurrency", "panic_concurrency", "target_per_pod", "desired_pods", "pods"})
	stop := every(podEvery, func() {
		at := time.Now()
		counts, err := s.count()
		if err != nil {
			return // a missed sample; the next comes podEvery later
		}
		row := []string{strconv.FormatInt(at.Unix(), 10)}
		s.mu.Lock()
		for _, svc := range s.services {
			s.history[svc] = append(s.history[svc], counts[svc])
			row = append(row, strconv.Itoa(counts[svc]))
		}
		s.mu.Unlock()
		_ = w.Write(row)
		w.Flush()
		if views, err := autoscalerViews(context.Background()); err == nil {
			v := views[checkoutSvc]
			s.mu.Lock()
			s.kpa = append(s.kpa, v)
			s.mu.Unlock()
			_ = kw.Write([]string{row[0], checkoutSvc, ff(v.Stable), ff(v.Panic), ff(v.Target), ff(v.Desired), strconv.Itoa(counts[checkoutSvc])})
			kw.Flush()
		}
	})
	s.stop = func() {
		stop()
		f.Close()
		kf.Close()
	}
	return s
}

// count reads the pods that are not terminating, by Knative Service.
func (s *podSampler) count() (map[string]int, error) {
	var l kube.List
	ctx, cancel := context.WithTimeout(context.Background(), podEvery)
	defer cancel()
	if err := k.Get(ctx, &l, "pods", "-n", ns, "-l", "serving.knative.dev/service"); err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, p := range l.Items {
		if p.Metadata.DeletionTimestamp == "" {
			counts[p.Metadata.Labels["serving.knative.dev/service"]]++
		}
	}
	return counts, nil
}

func ff(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// exceeded is the autoscaler's view at the first sample at which
// checkoutSvc's observed concurrency passed what one pod takes at its
// target, and whether there was one.
func (s *podSampler) exceeded() (kpaView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.kpa {
		if v.Exceeded(1) {
			return v, true
		}
	}
	return kpaView{}, false
}

func (s *podSampler) elapsed() time.Duration { return time.Since(s.begin) }

func (s *podSampler) last(svc string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.history[svc]
	if len(h) == 0 {
		return -1
	}
	return h[len(h)-1]
}

func (s *podSampler) peak(svc string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.history[svc]) == 0 {
		return 0
	}
	return slices.Max(s.history[svc])
}
