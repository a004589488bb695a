// Package startup starts a command the way every command of the project
// starts: its settings read once from the environment (envconfig tags),
// failing fast on a bad one, and its logger, JSON on stderr.
package startup

import (
	"log/slog"
	"os"

	"github.com/kelseyhightower/envconfig"
)

// Load reads s, a pointer to a struct with envconfig tags, from the
// environment and returns the command's logger at the level that *level
// holds once s is read (level points into s: LOG_LEVEL). A bad setting is
// logged and ends the process with status 2.
func Load(s any, level *slog.Level) *slog.Logger {
	lv := new(slog.LevelVar)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	if err := envconfig.Process("", s); err != nil {
		log.Error("bad settings", "err", err)
		os.Exit(2)
	}
	lv.Set(*level)
	return log
}
