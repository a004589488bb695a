//go:build tools

// Package kuberouter pins kube-router, whose network policy controller
// (--run-firewall, with its router and service proxy off) enforces the
// shop's NetworkPolicies on the cluster.
package kuberouter

import _ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
