//go:build clustershop

package shop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/cluster/internal/shopimages"
	"github.com/wdm-knative/webshop/e2e/consistency"
)

const (
	loggerPkg = "./knative/examples/checkout-logger"
	loggerKo  = "ko://github.com/wdm-knative/webshop/knative/examples/checkout-logger"
)

// checkoutLogger is the example consumer as deployed by a user: its image
// built the way `ko resolve` would, and its kustomization (Service, Trigger,
// NetworkPolicy) applied beside the shop without changing it.
type checkoutLogger struct{}

// deployCheckoutLogger builds and applies knative/examples/checkout-logger
// and waits for it to be Ready. Its Service is held at one pod (min-scale
// 1) for the test, since its log is the record of what it received and a
// pod scaled to zero takes its log with it.
func deployCheckoutLogger(t *testing.T) checkoutLogger {
	t.Helper()
	ctx := context.Background()
	ref, err := shopimages.KoBuild(ctx, info, repoRoot, loggerPkg, "dev.local/webshop/checkout-logger")
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := k.Run(ctx, nil, "kustomize", repoRoot+"/knative/examples/checkout-logger")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(rendered, []byte(loggerKo)) {
		t.Fatalf("the example names no %s image", loggerKo)
	}
	manifests := bytes.ReplaceAll(rendered, []byte(loggerKo), []byte(ref))
	manifests = bytes.ReplaceAll(manifests, []byte(`autoscaling.knative.dev/min-scale: "0"`), []byte(`autoscaling.knative.dev/min-scale: "1"`))
	if _, err := k.Run(ctx, manifests, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	for _, what := range []string{"ksvc/checkout-logger", "trigger/checkout-logger-paid"} {
		if _, err := k.Run(ctx, nil, "wait", "-n", ns, "--for=condition=Ready", "--timeout=3m", what); err != nil {
			t.Fatal(err)
		}
	}
	return checkoutLogger{}
}

// paid reads the logger's log: the distinct paid event ids it got, by order.
func (checkoutLogger) paid(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out, err := k.Run(context.Background(), nil, "logs", "-n", ns, "-l", "serving.knative.dev/service=checkout-logger",
		"-c", "subscriber", "--tail=-1")
	if err != nil {
		t.Fatal(err)
	}
	byOrder := map[string]map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var line struct {
			Msg     string `json:"msg"`
			EventID string `json:"event_id"`
			Order   string `json:"order"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "order paid" {
			continue
		}
		if byOrder[line.Order] == nil {
			byOrder[line.Order] = map[string]bool{}
		}
		byOrder[line.Order][line.EventID] = true
	}
	return byOrder
}

// checkRun holds the logger to a run's answers: one paid event (one id,
// however often delivered) for each order answered 200, none for an order
// refused. Deliveries are asynchronous: it waits up to a minute for them.
func (l checkoutLogger) checkRun(t *testing.T, w consistency.Workload, out *consistency.Outcome) {
	t.Helper()
	var got map[string]map[string]bool
	missing := 0
	_ = kube.Poll(context.Background(), time.Minute, 2*time.Second, func(context.Context) (bool, string, error) {
		got, missing = l.paid(t), 0
		for order, code := range out.Answers {
			if code == http.StatusOK && len(got[order]) == 0 {
				missing++
			}
		}
		return missing == 0, "", nil
	})
	paid := 0
	for _, order := range w.Orders {
		ids := got[order]
		switch code := out.Answers[order]; {
		case code == http.StatusOK && len(ids) != 1:
			t.Errorf("order %s answered 200; the logger got %d paid event ids, want 1", order, len(ids))
		case code != http.StatusOK && len(ids) != 0:
			t.Errorf("order %s answered %d; the logger got a paid event %v", order, code, strings.Join(slices.Sorted(maps.Keys(ids)), ","))
		}
		if len(ids) > 0 {
			paid++
		}
	}
	t.Logf("REPORT checkout-logger: %d paid events for the %d orders of the run", paid, len(w.Orders))
	if paid == 0 {
		t.Error("the logger got no paid event at all")
	}
}
