// Command shopctl answers an operator's questions about checkouts: what
// happened to one order's saga, which sagas are stuck, which events were
// dead-lettered; and it replays dead letters through the broker once the
// fault is fixed.
//
//	shopctl saga show ORDER_ID
//	shopctl saga stuck [--older-than 10s] [--limit 100]
//	shopctl deadletters list [--limit 100]
//	shopctl deadletters replay ID|--all
//
// Every command takes -o table (default) or -o json. Settings are the
// functions' own variables (ORDER_DSN, STOCK_DSN, PAYMENT_DSN, K_SINK); with
// none set, shopctl uses the stack `make up` runs from this checkout
// (.wdm/stack.json). Exit status: 0 done, 1 failed (e.g. a database cannot
// be reached), 2 bad usage or a malformed id, 3 not found.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitNotFound = 3
)

// Errors that choose the exit status; wrapped with the details.
var (
	errUsage    = errors.New("usage")
	errNotFound = errors.New("not found")
)

const usage = `usage:
  shopctl saga show ORDER_ID
  shopctl saga stuck [--older-than 10s] [--limit 100]
  shopctl deadletters list [--limit 100]
  shopctl deadletters replay ID|--all
flags of every command: -o table|json
settings: ORDER_DSN, STOCK_DSN, PAYMENT_DSN, K_SINK (none set: the running make up stack)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "shopctl: %v\n\n%s", err, usage)
		return exitUsage
	case errors.Is(err, errNotFound):
		fmt.Fprintf(stderr, "shopctl: %v\n", err)
		return exitNotFound
	default:
		fmt.Fprintf(stderr, "shopctl: %v\n", err)
		return exitFailed
	}
}

func dispatch(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) < 2 {
		return fmt.Errorf("%w: a command is required", errUsage)
	}
	cmd, rest := args[0]+" "+args[1], args[2:]
	switch cmd {
	case "saga show":
		return sagaShow(ctx, rest, stdout)
	case "saga stuck":
		return sagaStuck(ctx, rest, stdout)
	case "deadletters list":
		return deadLettersList(ctx, rest, stdout)
	case "deadletters replay":
		return deadLettersReplay(ctx, rest, stdout)
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}
