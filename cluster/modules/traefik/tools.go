//go:build tools

// Package traefik pins the Traefik command (the ingress, with its Knative
// provider) the cluster tool builds.
package traefik

import _ "github.com/traefik/traefik/v3/cmd/traefik"
