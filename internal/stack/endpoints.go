package stack

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Endpoints say where a running stack's parts answer, for tools that watch
// it from outside (cmd/soak): `make up` writes them to Dir/stack.json once
// the stack is ready and removes the file when it stops.
type Endpoints struct {
	GatewayURL string `json:"gateway_url"`
	// PostgresDSN reaches the server's "postgres" database, without a
	// password (pgx takes PGPASSWORD from the environment).
	PostgresDSN string `json:"postgres_dsn"`
	AMQPURL     string `json:"amqp_url"`
	// Metrics maps each process that serves Prometheus metrics (the broker
	// and every function process) to its /metrics URL.
	Metrics map[string]string `json:"metrics"`
}

func endpointsFile(dir string) string { return filepath.Join(dir, "stack.json") }

// writeEndpoints records where this stack's parts answer. The file is
// private to its owner: the AMQP URL holds the server's credentials.
func (s *Stack) writeEndpoints(l layout) error {
	dsn, err := url.Parse(s.DSN("postgres"))
	if err != nil {
		return err
	}
	if dsn.User != nil {
		dsn.User = url.User(dsn.User.Username())
	}
	e := Endpoints{GatewayURL: s.gatewayURL, PostgresDSN: dsn.String(), AMQPURL: s.amqpURL,
		Metrics: map[string]string{Broker: l.brokerURL() + "metrics"}}
	for _, p := range l.procs {
		e.Metrics[p.Name] = l.baseURL[p.Name] + "/metrics"
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(endpointsFile(s.opts.Dir), b, 0o600)
}

// ReadEndpoints reads the endpoints of the stack running with state folder
// dir (`make up`'s WDM_DIR).
func ReadEndpoints(dir string) (Endpoints, error) {
	var e Endpoints
	b, err := os.ReadFile(endpointsFile(dir))
	if err != nil {
		return e, fmt.Errorf("no running stack in %s (start one with make up): %w", dir, err)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("%s: %w", endpointsFile(dir), err)
	}
	return e, nil
}
