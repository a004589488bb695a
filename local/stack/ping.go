package stack

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wdm-knative/webshop/schemas"
)

// pingSource stands in for the cluster's PingSource (knative/base/pingsource.yaml):
// it sends a dev.knative.sources.ping event into the broker every interval,
// which the saga-sweep Trigger delivers. Locally it can tick far more often
// than cron's once a minute, so stalled sagas recover in seconds.
type pingSource struct {
	sink     string
	interval time.Duration
	log      *slog.Logger
	client   *http.Client
}

// run ticks until ctx ends. A failed send (broker restarting) is logged and
// the next tick tries again: a missed ping only delays the sweep.
func (p *pingSource) run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.send(ctx, n); err != nil && ctx.Err() == nil {
			p.log.Debug("ping not delivered", "err", err)
		}
	}
}

func (p *pingSource) send(ctx context.Context, n int) error {
	ctx, cancel := context.WithTimeout(ctx, p.interval)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.sink, bytes.NewReader([]byte(`{"sweep":"sagas"}`)))
	if err != nil {
		return err
	}
	// Binary-mode CloudEvent, shaped like the PingSource adapter's.
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Type", schemas.TypePing)
	req.Header.Set("Ce-Source", "/apis/v1/namespaces/webshop/pingsources/saga-sweep")
	req.Header.Set("Ce-Id", "local-ping-"+strconv.FormatInt(time.Now().UnixNano(), 36)+"-"+strconv.Itoa(n))
	req.Header.Set("Ce-Time", time.Now().UTC().Format(time.RFC3339Nano))
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("broker answered %d", resp.StatusCode)
	}
	return nil
}
