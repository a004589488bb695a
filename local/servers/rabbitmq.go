package servers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// RabbitMQ is a private RabbitMQ node whose files live in Dir.
type RabbitMQ struct {
	Dir      string
	Port     int
	DistPort int
	Name     string // Erlang node name, unique per instance
}

// NewRabbitMQ prepares the config of a node in dir listening on port.
func NewRabbitMQ(dir string, port, distPort int) (*RabbitMQ, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	r := &RabbitMQ{Dir: abs, Port: port, DistPort: distPort, Name: fmt.Sprintf("wdm%d@localhost", port)}
	for _, d := range []string{"mnesia", "log", "home"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
			return nil, err
		}
	}
	conf := fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\nloopback_users = none\n"+
		// The disk is shared with everything else; never block publishers on a small free-space check.
		"disk_free_limit.absolute = 50MB\nvm_memory_high_watermark.relative = 0.4\n", port)
	if err := os.WriteFile(filepath.Join(abs, "rabbitmq.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(abs, "enabled_plugins"), []byte("[].\n"), 0o644); err != nil {
		return nil, err
	}
	return r, nil
}

// Command returns the node in the foreground. The Debian wrapper script drops
// the environment, so the real server script is run directly.
func (r *RabbitMQ) Command() (*exec.Cmd, error) {
	log, err := logFile(filepath.Join(r.Dir, "rabbitmq.out"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(RabbitMQBin)
	cmd.Env = append(os.Environ(),
		"RABBITMQ_NODENAME="+r.Name,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(r.Port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(r.DistPort),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(r.Dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(r.Dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(r.Dir, "rabbitmq.pid"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(r.Dir, "enabled_plugins"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(r.Dir, "rabbitmq"),
		"HOME="+filepath.Join(r.Dir, "home"),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		// No busy-waiting schedulers: on a small shared machine their
		// spinning takes CPU from everything else (Debian's own unit
		// starts the default node the same way). One scheduler: the shop's
		// few hundred messages a second need a fraction of a core, and a
		// second scheduler only adds wake-ups between the two (in the
		// flow workload RabbitMQ took about 30 % less CPU per checkout;
		// README "Performance" at commit 53a5078).
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none",
		// The rabbitmq-server script forks the Erlang VM into the background
		// and waits for it, unless it believes systemd runs it: then it execs
		// the VM in its own place. So the VM is our child, Pdeathsig reaches
		// it (an orphaned VM would hold its ports and data forever) and
		// SIGTERM stops it directly. Nothing listens on this socket; the VM's
		// ready notification is dropped quietly.
		"NOTIFY_SOCKET="+filepath.Join(r.Dir, "no-systemd.sock"),
	)
	ownGroup(cmd)
	cmd.Stdout, cmd.Stderr = log, log
	return cmd, nil
}

// URL is the AMQP address of the node.
func (r *RabbitMQ) URL() string {
	return fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", r.Port)
}

// WaitReady waits until the node accepts an AMQP connection.
func (r *RabbitMQ) WaitReady(ctx context.Context) error {
	if err := waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", r.Port)); err != nil {
		return err
	}
	for {
		conn, err := amqp.Dial(r.URL())
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("rabbitmq on %d not ready: %w", r.Port, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
