// Package clustertest is what the tests against a running cluster share:
// finding it, kubectl through its forwarded API port, and requests through
// its forwarded ingress ports.
package clustertest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wdm-knative/webshop/cluster/internal/kube"
	"github.com/wdm-knative/webshop/cluster/internal/phases"
)

// Dir is the running cluster's state folder.
func Dir() string {
	if dir := os.Getenv("WDM_CLUSTER_DIR"); dir != "" {
		return dir
	}
	return "/var/lib/wdm-cluster"
}

// Open reads the running cluster's cluster.json and returns it with a
// kubectl client on the host's kubeconfig (the forwarded API port).
func Open() (phases.Info, kube.Client, error) {
	info, err := phases.ReadInfo(Dir())
	return info, kube.Client{Kubectl: info.Kubectl, Kubeconfig: info.Kubeconfig}, err
}

// Request sends a request to addr (a forwarded ingress port on 127.0.0.1)
// with a Host header when host is not empty, as a client outside does.
func Request(addr, method, host, path, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// PodCount is the number of pods matching selector in namespace.
func PodCount(t *testing.T, k kube.Client, namespace, selector string) int {
	t.Helper()
	var l kube.List
	if err := k.Get(context.Background(), &l, "pods", "-n", namespace, "-l", selector); err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}

// WaitZero waits until the Knative Service has no pods.
func WaitZero(t *testing.T, k kube.Client, namespace, service string, timeout time.Duration) {
	t.Helper()
	sel := "serving.knative.dev/service=" + service
	err := kube.Poll(context.Background(), timeout, 2*time.Second, func(context.Context) (bool, string, error) {
		n := PodCount(t, k, namespace, sel)
		return n == 0, fmt.Sprintf("%s has %d pods", service, n), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
