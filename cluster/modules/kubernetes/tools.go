//go:build tools

// Package kubernetes pins the Kubernetes commands the cluster tool builds:
// k8s.io/kubernetes at one release, its staging modules replaced by the
// published k8s.io/* modules of the same release (the module zip leaves
// staging/ out).
package kubernetes

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
