// Command coredns is CoreDNS with only the plugins a cluster without an
// upstream needs: the cluster domain, a cache and the probes. Leaving
// forward (and every other plugin) out of the binary means no Corefile can
// send a query off the node.
package main

import (
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"

	"github.com/coredns/coredns/coremain"
)

func main() { coremain.Run() }
