// Package kube drives the cluster through kubectl (the one built here),
// which keeps the tool free of client libraries and makes every step one a
// reader can repeat by hand.
package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// Client runs kubectl against one kubeconfig.
type Client struct {
	Kubectl    string
	Kubeconfig string
	// Wrap, when set, is the prefix that runs kubectl inside the cluster's
	// network namespace (nsenter): a kubeconfig that names the node's
	// address must never be used from the host, where that address routes
	// off the machine.
	Wrap []string
}

// Run runs kubectl with args and stdin, returning stdout; an error carries
// stderr.
func (c Client) Run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	argv := append(append(append([]string{}, c.Wrap...), c.Kubectl, "--kubeconfig", c.Kubeconfig), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// Apply applies a YAML stream server-side (Knative's CRDs are too large for
// the client-side last-applied annotation).
func (c Client) Apply(ctx context.Context, yaml []byte) error {
	_, err := c.Run(ctx, yaml, "apply", "--server-side", "--force-conflicts", "--field-manager=wdm-cluster", "-f", "-")
	return err
}

// Get decodes `kubectl get ... -o json` into v.
func (c Client) Get(ctx context.Context, v any, args ...string) error {
	out, err := c.Run(ctx, nil, append(append([]string{"get"}, args...), "-o", "json")...)
	if err != nil {
		return err
	}
	return json.Unmarshal(out, v)
}

// Poll calls check every interval until it reports done, returns an error
// that is not errRetry, or the timeout passes; the last reason is in the
// timeout error.
func Poll(ctx context.Context, timeout, interval time.Duration, check func(context.Context) (done bool, reason string, err error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "not checked yet"
	for {
		done, reason, err := check(ctx)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if done {
			return nil
		}
		if reason != "" {
			last = reason
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %s", timeout, last)
		case <-time.After(interval):
		}
	}
}

// Condition is a status condition.
type Condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// LastTransitionTime is when Status last changed (whole seconds).
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

// Object is the part of any object the checks read.
type Object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		UID       string            `json:"uid"`
		Labels    map[string]string `json:"labels"`
		// CreationTimestamp is when the API server stored it (whole seconds).
		CreationTimestamp time.Time `json:"creationTimestamp"`
		// DeletionTimestamp is set on an object being deleted.
		DeletionTimestamp string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Status struct {
		Conditions []Condition `json:"conditions"`
		Phase      string      `json:"phase"`
		URL        string      `json:"url"`
		Address    struct {
			URL string `json:"url"`
		} `json:"address"`
		ContainerStatuses []struct {
			Name         string `json:"name"`
			Ready        bool   `json:"ready"`
			ContainerID  string `json:"containerID"` // containerd://ID
			RestartCount int    `json:"restartCount"`
			State        map[string]struct {
				Reason  string `json:"reason"`
				Message string `json:"message"`
			} `json:"state"`
		} `json:"containerStatuses"`
		PodIP string `json:"podIP"`
	} `json:"status"`
	Spec struct {
		ClusterIP string `json:"clusterIP"`
		NodeName  string `json:"nodeName"`
	} `json:"spec"`
}

// List is a list of objects.
type List struct {
	Items []Object `json:"items"`
}

// Cond is the status of the condition typ ("" when absent).
func (o Object) Cond(typ string) Condition {
	for _, c := range o.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return Condition{}
}

// WaitCondition waits until every object of the kind in the namespace
// ("" for all namespaces) has condition typ True.
func (c Client) WaitCondition(ctx context.Context, kind, namespace, typ string, timeout time.Duration) error {
	args := []string{kind}
	if namespace == "" {
		args = append(args, "--all-namespaces")
	} else {
		args = append(args, "-n", namespace)
	}
	return Poll(ctx, timeout, 2*time.Second, func(ctx context.Context) (bool, string, error) {
		var l List
		if err := c.Get(ctx, &l, args...); err != nil {
			return false, err.Error(), nil
		}
		if len(l.Items) == 0 {
			return false, "no " + kind + " yet", nil
		}
		var waiting []string
		for _, o := range l.Items {
			if cond := o.Cond(typ); cond.Status != "True" {
				waiting = append(waiting, fmt.Sprintf("%s/%s %s=%q %s %s", o.Metadata.Namespace, o.Metadata.Name, typ,
					cond.Status, cond.Reason, cond.Message))
			}
		}
		return len(waiting) == 0, strings.Join(waiting, "; "), nil
	})
}

// PodProblems describes pods in the namespaces that are not Running and
// ready: what a failed wait reports, with each container's own reason.
func (c Client) PodProblems(ctx context.Context, namespaces ...string) string {
	var b strings.Builder
	for _, ns := range namespaces {
		var l List
		if err := c.Get(ctx, &l, "pods", "-n", ns); err != nil {
			fmt.Fprintf(&b, "%s: %v\n", ns, err)
			continue
		}
		for _, p := range l.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Ready {
					continue
				}
				fmt.Fprintf(&b, "%s/%s container %s not ready:", ns, p.Metadata.Name, cs.Name)
				for state, s := range cs.State {
					fmt.Fprintf(&b, " %s %s %s", state, s.Reason, s.Message)
				}
				b.WriteString("\n")
				logs, _ := c.Run(ctx, nil, "logs", "-n", ns, p.Metadata.Name, "-c", cs.Name, "--tail=15")
				for _, line := range strings.Split(strings.TrimSpace(string(logs)), "\n") {
					if line != "" {
						fmt.Fprintf(&b, "    | %s\n", line)
					}
				}
			}
			if p.Status.Phase != "Running" && p.Status.Phase != "Succeeded" && len(p.Status.ContainerStatuses) == 0 {
				fmt.Fprintf(&b, "%s/%s phase %s %v\n", ns, p.Metadata.Name, p.Status.Phase, p.Status.Conditions)
			}
		}
	}
	return b.String()
}
