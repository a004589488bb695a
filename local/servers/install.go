package servers

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
)

// Binaries of the Debian packages the stack runs.
const (
	PostgresBin = "/usr/lib/postgresql/15/bin"
	RabbitMQBin = "/usr/lib/rabbitmq/bin/rabbitmq-server"
)

// EnsureInstalled installs PostgreSQL and RabbitMQ with apt-get when their
// binaries are missing. Without root it names the one command to run instead.
func EnsureInstalled(ctx context.Context, log *slog.Logger) error {
	var missing []string
	if _, err := os.Stat(PostgresBin + "/postgres"); err != nil {
		missing = append(missing, "postgresql")
	}
	if _, err := os.Stat(RabbitMQBin); err != nil {
		missing = append(missing, "rabbitmq-server")
	}
	if len(missing) == 0 {
		return nil
	}
	args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing %v: run `sudo apt-get update && sudo apt-get %s`", missing, strings.Join(args, " "))
	}
	log.Info("installing with apt-get", "packages", missing)
	for _, a := range [][]string{{"update"}, args} {
		cmd := exec.CommandContext(ctx, "apt-get", a...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("apt-get %s: %w", strings.Join(a, " "), err)
		}
	}
	// The packages start their default instances; the stack never needs them.
	return nil
}
