package stack

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/kelseyhightower/envconfig"
)

// cmd/up (envconfig over an empty environment) and a test (a zero Options
// given to Start) end up with the same settings.
func TestDefaultsAreTheSameForUpAndTests(t *testing.T) {
	typ := reflect.TypeFor[Options]()
	for i := range typ.NumField() {
		if key, ok := typ.Field(i).Tag.Lookup("envconfig"); ok {
			t.Setenv(key, "") // restored after the test
			os.Unsetenv(key)
		}
	}
	var fromEnv Options
	if err := envconfig.Process("", &fromEnv); err != nil {
		t.Fatal(err)
	}
	up, err := fromEnv.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	test, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(up, test, cmpopts.IgnoreFields(Options{}, "Log")); diff != "" {
		t.Errorf("cmd/up and tests differ (-up +test):\n%s", diff)
	}
	if up.GatewayAddr != "127.0.0.1:8000" || up.Grouping != GroupByDomain || up.PingInterval != time.Second {
		t.Errorf("defaults %+v are not those docs/configuration.md documents", up)
	}
}

func TestWithDefaults(t *testing.T) {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		name    string
		in      Options
		want    Options // compared without Log and ModuleDir
		wantErr bool
	}{
		{name: "zero", in: Options{}, want: Options{Dir: abs(".wdm"), BinDir: abs(".wdm/bin"), GatewayAddr: "127.0.0.1:8000",
			Grouping: GroupByDomain, PGUser: "postgres", PingInterval: time.Second, Sched: SchedTuned, LogLevel: slog.LevelInfo}},
		{name: "set fields are kept", in: Options{Dir: "/tmp/x", BinDir: "/tmp/bin", GatewayAddr: "127.0.0.1:0", Grouping: GroupByOperation,
			PGUser: "shop", PingInterval: 3 * time.Second, Sched: SchedDefault, LogLevel: slog.LevelDebug},
			want: Options{Dir: "/tmp/x", BinDir: "/tmp/bin", GatewayAddr: "127.0.0.1:0", Grouping: GroupByOperation,
				PGUser: "shop", PingInterval: 3 * time.Second, Sched: SchedDefault, LogLevel: slog.LevelDebug}},
		{name: "bin folder follows the state folder", in: Options{Dir: "/tmp/y"}, want: Options{Dir: "/tmp/y", BinDir: "/tmp/y/bin",
			GatewayAddr: "127.0.0.1:8000", Grouping: GroupByDomain, PGUser: "postgres", PingInterval: time.Second, Sched: SchedTuned}},
		{name: "negative ping interval", in: Options{PingInterval: -time.Second}, wantErr: true},
		{name: "unknown scheduling", in: Options{Sched: "fast"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.withDefaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if got.Log == nil || got.ModuleDir == "" {
				t.Errorf("Log %v, ModuleDir %q: want both set", got.Log, got.ModuleDir)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(Options{}, "Log", "ModuleDir")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
