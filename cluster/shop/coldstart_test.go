//go:build clustershop

package shop

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/clustertest"
)

// TestColdStartOfEachService wakes every Service that scales to zero, one
// at a time from zero pods, with a GET of its readiness endpoint through
// Traefik's cluster-local entry point (the way another Service or the
// broker's filter reaches it), and reports how long each took to answer:
// the activator holds the request while the pod is scheduled, its
// containers start, the function opens its database pool and both probes
// pass.
func TestColdStartOfEachService(t *testing.T) {
	var l ksvcList
	if err := k.Get(context.Background(), &l, "ksvc", "-n", ns); err != nil {
		t.Fatal(err)
	}
	var took []time.Duration
	for _, s := range l.Items {
		name := s.Metadata.Name
		if min := s.Spec.Template.Metadata.Annotations["autoscaling.knative.dev/min-scale"]; min != "" && min != "0" {
			t.Logf("REPORT cold start %s: none, min-scale %s keeps it warm", name, min)
			continue
		}
		clustertest.WaitZero(t, k, ns, name, 4*time.Minute)
		start := time.Now()
		code, body, err := clustertest.Request(info.IngressLocal, http.MethodGet, name+"."+ns+".svc.cluster.local", "/health/readiness", "")
		d := time.Since(start)
		if err != nil || code != http.StatusOK {
			t.Errorf("%s from zero: %d %s %v, want 200", name, code, body, err)
			continue
		}
		took = append(took, d)
		t.Logf("REPORT cold start %s: %s", name, d.Round(time.Millisecond))
	}
	if len(took) == 0 {
		t.Fatal("no Service scales to zero")
	}
	slices.Sort(took)
	t.Logf("REPORT cold starts of %d Services: min %s, median %s, max %s", len(took),
		took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
}
