package stack

import (
	"encoding"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"time"
)

// Options say where and how to run a stack. The envconfig tags are the
// settings of `make up` (cmd/up), and their `default` tags are the one home
// of every default: cmd/up gets them from envconfig, Start fills the fields
// a caller left zero from the same tags, so a test gets what `make up` gets.
type Options struct {
	// Dir holds the private servers' data, bin/ and logs/.
	Dir string `envconfig:"WDM_DIR" default:".wdm"`
	// GatewayAddr is where the gateway listens; port 0 picks a free port
	// (what tests that run stacks side by side ask for).
	GatewayAddr string `envconfig:"WDM_GATEWAY_ADDR" default:"127.0.0.1:8000"`
	// Grouping of operations into processes: "domain" or "operation".
	Grouping string `envconfig:"WDM_GROUPING" default:"domain"`
	// PGAddr (host:port) names an existing Postgres to use instead of a
	// private one; it must let PGUser create databases.
	PGAddr     string `envconfig:"WDM_PG_ADDR"`
	PGUser     string `envconfig:"WDM_PG_USER" default:"postgres"`
	PGPassword string `envconfig:"WDM_PG_PASSWORD"`
	// AMQPURL names an existing RabbitMQ to use instead of a private one.
	AMQPURL string `envconfig:"WDM_AMQP_URL"`
	// BinDir receives the built binaries (default Dir/bin). Tests that start
	// many stacks share one so that `go build` finds them up to date.
	BinDir string `envconfig:"WDM_BIN_DIR"`
	// PingInterval is how often the local PingSource stand-in triggers the
	// saga's recovery sweep.
	PingInterval time.Duration `envconfig:"WDM_PING_INTERVAL" default:"1s"`
	// Sched is how the stack's processes are scheduled: "tuned" (timer
	// slack and SCHED_BATCH, see sched.go) or "default" (as the kernel
	// starts any process).
	Sched string `envconfig:"WDM_SCHED" default:"tuned"`
	// LogLevel is handed to every process as LOG_LEVEL.
	LogLevel slog.Level `envconfig:"LOG_LEVEL" default:"info"`

	// ServicesOnly starts only Postgres and RabbitMQ (for `make test`).
	ServicesOnly bool `ignored:"true"`
	// ModuleDir is the repository root, where `go build` runs; default: the
	// nearest folder above the working directory that holds go.mod.
	ModuleDir string `ignored:"true"`
	// TriggerDirs are folders of extra Trigger manifests the broker routes
	// by besides knative/base's (say, a test's subscriber of the outcome
	// events), as a new consumer adds a Trigger in a cluster.
	TriggerDirs []string `ignored:"true"`
	// Env is added to every process's environment (after the stack's own
	// settings, so it can override them: a test may shorten a timeout).
	Env []string `ignored:"true"`
	// Log receives the stack's own progress; default JSON on stderr.
	Log *slog.Logger `ignored:"true"`
}

// withDefaults fills every field left zero: first from its `default` tag,
// then the defaults that derive from other fields. It returns an error for
// a setting that cannot work.
func (o Options) withDefaults() (Options, error) {
	if err := fillTagDefaults(&o); err != nil {
		return o, err
	}
	if o.Sched != SchedTuned && o.Sched != SchedDefault {
		return o, fmt.Errorf("stack: WDM_SCHED %q: want %q or %q", o.Sched, SchedTuned, SchedDefault)
	}
	if o.PingInterval < 0 {
		return o, fmt.Errorf("stack: ping interval %v must be positive", o.PingInterval)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, err
	}
	o.Dir = dir
	if o.BinDir == "" {
		o.BinDir = filepath.Join(o.Dir, "bin")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if o.ModuleDir == "" && !o.ServicesOnly {
		if o.ModuleDir, err = findModule(); err != nil {
			return o, err
		}
	}
	return o, nil
}

// fillTagDefaults sets each zero field of *o that has a `default` tag to
// the tag's value, parsed as envconfig parses it for cmd/up.
func fillTagDefaults(o *Options) error {
	v := reflect.ValueOf(o).Elem()
	for i := range v.NumField() {
		field, value := v.Type().Field(i), v.Field(i)
		def, ok := field.Tag.Lookup("default")
		if !ok || !value.IsZero() {
			continue
		}
		if err := setFromText(value, def); err != nil {
			return fmt.Errorf("stack: default %q of %s: %w", def, field.Name, err)
		}
	}
	return nil
}

// setFromText parses text into v: a TextUnmarshaler (slog.Level), a
// time.Duration or a string; the kinds Options' defaults use.
func setFromText(v reflect.Value, text string) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(text))
	}
	switch {
	case v.Type() == reflect.TypeFor[time.Duration]():
		d, err := time.ParseDuration(text)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(text)
	default:
		return fmt.Errorf("no parser for %s", v.Type())
	}
	return nil
}

func (o Options) logDir() string             { return filepath.Join(o.Dir, "logs") }
func (o Options) logFile(name string) string { return filepath.Join(o.logDir(), name+".log") }
