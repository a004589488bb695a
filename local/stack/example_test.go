package stack_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/wdm-knative/webshop/local/stack"
)

// An end-to-end test starts a whole stack on free ports, kills a component
// as a crash would and waits for the supervisor to bring it back.
func ExampleStart() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, _ := os.MkdirTemp("", "wdm-e2e-")
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o755) // the postgres user must reach its data folder

	st, err := stack.Start(ctx, stack.Options{
		Dir:         dir,
		GatewayAddr: "127.0.0.1:0", // a free port: not make up's 8000
		// One bin folder for every stack of a test run: go build then
		// finds the binaries up to date instead of linking them again.
		BinDir: filepath.Join(os.TempDir(), "wdm-e2e-bin"),
	})
	if err != nil {
		panic(err)
	}
	defer st.Stop()

	_ = st.Kill("stock") // SIGKILL; also "saga", "broker", "gateway", "postgres", "rabbitmq"
	if err := st.WaitReady(ctx, "stock"); err != nil {
		panic(err)
	}
	resp, err := http.Get(st.GatewayURL() + "/stock/find/0")
	if err == nil {
		resp.Body.Close()
	}
}
