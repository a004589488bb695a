// Package stackfile is the file in the local stack's folder (.wdm) that says
// where a running stack serves, so that tools (cmd/shopctl, tools/cmd/soak)
// find it alone: `make up` writes it once the stack is ready and removes it
// when it stops. It imports only the standard library, so that a tool which
// reads the file links neither the supervisor nor the servers.
package stackfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// Name is the file's name in the stack's folder.
const Name = "stack.json"

// ErrNoStack means no running stack was found in a folder.
var ErrNoStack = errors.New("no running stack")

// Endpoints are the addresses of a running stack, under the names the
// functions' settings use where they have one.
type Endpoints struct {
	GatewayURL string `json:"gateway_url"`
	BrokerURL  string `json:"broker_url"` // K_SINK
	OrderDSN   string `json:"order_dsn"`
	StockDSN   string `json:"stock_dsn"`
	PaymentDSN string `json:"payment_dsn"`
	// PostgresDSN reaches the server's "postgres" database, without a
	// password (pgx takes PGPASSWORD from the environment).
	PostgresDSN string `json:"postgres_dsn"`
	AMQPURL     string `json:"amqp_url"`
	// Metrics maps each process that serves Prometheus metrics (the broker
	// and every function process) to its /metrics URL.
	Metrics map[string]string `json:"metrics"`
	PID     int               `json:"pid"` // of the process that runs the stack
}

// Path is the stack file of the stack whose folder is dir.
func Path(dir string) string { return filepath.Join(dir, Name) }

// Write records where a stack's parts answer. The file is private to its
// owner (the AMQP URL and DSNs hold credentials), written whole and then
// renamed, so a reader never sees half a file.
func Write(dir string, e Endpoints) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	path := Path(dir)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// Read returns the endpoints of the stack running from dir (`make up`'s
// WDM_DIR), or ErrNoStack when there is none (no file, or its process is
// gone: a stack killed with SIGKILL cannot remove its file).
func Read(dir string) (Endpoints, error) {
	path := Path(dir)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Endpoints{}, fmt.Errorf("%w in %s (is `make up` running?)", ErrNoStack, dir)
	}
	if err != nil {
		return Endpoints{}, err
	}
	var e Endpoints
	if err := json.Unmarshal(b, &e); err != nil {
		return Endpoints{}, fmt.Errorf("%s: %w", path, err)
	}
	if e.PID <= 0 || syscall.Kill(e.PID, 0) == syscall.ESRCH {
		return Endpoints{}, fmt.Errorf("%w in %s: its process %d is gone", ErrNoStack, dir, e.PID)
	}
	return e, nil
}
