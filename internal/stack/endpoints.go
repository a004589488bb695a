package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// EndpointsFile is the file in the stack's folder (.wdm) that says where a
// running stack serves, so that tools such as cmd/shopctl find it alone.
const EndpointsFile = "stack.json"

// ErrNoStack means no running stack was found in a folder.
var ErrNoStack = errors.New("no running stack")

// Endpoints are the addresses of a running stack, under the names the
// functions' settings use.
type Endpoints struct {
	GatewayURL string `json:"gateway_url"`
	BrokerURL  string `json:"broker_url"` // K_SINK
	OrderDSN   string `json:"order_dsn"`
	StockDSN   string `json:"stock_dsn"`
	PaymentDSN string `json:"payment_dsn"`
	PID        int    `json:"pid"` // of the process that runs the stack
}

func writeEndpoints(path string, e Endpoints) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	// Written whole, then renamed: a reader never sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// ReadEndpoints returns the endpoints of the stack running from dir, or
// ErrNoStack when there is none (no file, or its process is gone: a stack
// killed with SIGKILL cannot remove its file).
func ReadEndpoints(dir string) (Endpoints, error) {
	path := filepath.Join(dir, EndpointsFile)
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
