package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/wdm-knative/webshop/functions/deadletter"
	"github.com/wdm-knative/webshop/internal/eventhttp"
)

// maxReplayAll bounds --all: the retention keeps the table small, and a
// larger backlog is better replayed in steps an operator can watch.
const maxReplayAll = 10000

func deadLettersList(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("deadletters list")
	limit := f.Int("limit", 100, "list at most this many (oldest first)")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 || *limit < 1 {
		return fmt.Errorf("%w: deadletters list takes no arguments and --limit >= 1", errUsage)
	}
	ss, err := openSession(ctx, nil)
	if err != nil {
		return err
	}
	defer ss.close()
	letters, err := deadletter.NewStore(ss.order).List(ss.ctx, *limit)
	if err != nil {
		return err
	}
	if *f.output == "json" {
		if letters == nil {
			letters = []deadletter.Letter{}
		}
		return writeJSON(out, letters)
	}
	if len(letters) == 0 {
		fmt.Fprintln(out, "no dead letters")
		return nil
	}
	tw := newTable(out)
	row(tw, "ID", "RECEIVED", "TYPE", "SUBJECT", "TRIGGER", "CODE", "ERROR", "REPLAYS")
	for _, l := range letters {
		row(tw, strconv.FormatInt(l.ID, 10), stamp(l.ReceivedAt), l.Type, orDash(l.Subject), orDash(l.Trigger),
			strconv.Itoa(l.ErrorCode), orDash(oneLine(l.ErrorData, 60)), strconv.Itoa(l.Replays))
	}
	return tw.Flush()
}

// replayed is one line of replay's report.
type replayed struct {
	ID      int64  `json:"id"`
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	Subject string `json:"subject,omitempty"`
	Error   string `json:"error,omitempty"`
}

// deadLettersReplay posts dead letters to the broker ingress again. It is
// safe to repeat: the event keeps its id, and every participant and the
// saga are idempotent by saga id and their ledgers, so a step already
// settled changes nothing. Everything is checked before the first send.
func deadLettersReplay(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("deadletters replay")
	all := f.Bool("all", false, "replay every stored dead letter")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	var id int64
	switch {
	case *all && len(pos) == 0:
	case !*all && len(pos) == 1:
		if id, err = strconv.ParseInt(pos[0], 10, 64); err != nil || id < 1 {
			return fmt.Errorf("%w: malformed dead-letter id %q: want a positive number from `shopctl deadletters list`", errUsage, pos[0])
		}
	default:
		return fmt.Errorf("%w: deadletters replay takes one ID or --all", errUsage)
	}
	ss, err := openSession(ctx, func(s settings) error {
		if u, err := url.Parse(s.Sink); s.Sink == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: K_SINK (the broker ingress) must be an http(s) URL to replay, got %q (settings from %s)", errUsage, s.Sink, s.from)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer ss.close()
	ctx = ss.ctx
	store := deadletter.NewStore(ss.order)

	var letters []deadletter.Letter
	if *all {
		if letters, err = store.List(ctx, maxReplayAll); err != nil {
			return err
		}
	} else {
		l, err := store.Get(ctx, id)
		if errors.Is(err, deadletter.ErrNotFound) {
			return fmt.Errorf("%w: no dead letter %d (see `shopctl deadletters list`)", errNotFound, id)
		}
		if err != nil {
			return err
		}
		letters = []deadletter.Letter{l}
	}
	events := make([]event.Event, len(letters))
	for i, l := range letters {
		if events[i], err = original(l); err != nil {
			return fmt.Errorf("dead letter %d: %w; nothing was replayed", l.ID, err)
		}
	}

	sender := eventhttp.Sender{URL: ss.Sink, Client: &http.Client{Timeout: 10 * time.Second}}
	report := make([]replayed, 0, len(letters))
	var failed int
	for i, l := range letters {
		r := replayed{ID: l.ID, EventID: l.EventID, Type: l.Type, Subject: l.Subject}
		err := sender.Send(ctx, events[i])
		if err == nil {
			err = store.MarkReplayed(ctx, l.ID)
		}
		if err != nil {
			r.Error = err.Error()
			failed++
		}
		report = append(report, r)
	}
	if *f.output == "json" {
		if err := writeJSON(out, report); err != nil {
			return err
		}
	} else {
		if len(report) == 0 {
			fmt.Fprintln(out, "no dead letters to replay")
		}
		tw := newTable(out)
		if len(report) > 0 {
			row(tw, "ID", "EVENT", "TYPE", "SUBJECT", "RESULT")
		}
		for _, r := range report {
			row(tw, strconv.FormatInt(r.ID, 10), r.EventID, r.Type, orDash(r.Subject), orDash(r.Error))
		}
		_ = tw.Flush()
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d dead letters were not replayed (see above); replaying again is safe", failed, len(report))
	}
	return nil
}

// original is the event as it was first sent: the broker's knativeerror*
// extensions describe the failed delivery, not the event, and a replay
// that carried them would look like a dead letter again.
func original(l deadletter.Letter) (event.Event, error) {
	var ev event.Event
	if err := json.Unmarshal(l.Event, &ev); err != nil {
		return ev, fmt.Errorf("stored event is not a CloudEvent: %w", err)
	}
	for _, ext := range []string{eventhttp.ExtErrorCode, eventhttp.ExtErrorDest, eventhttp.ExtErrorData} {
		ev.SetExtension(ext, nil) // nil removes it
	}
	if err := ev.Validate(); err != nil {
		return ev, fmt.Errorf("stored event is invalid: %w", err)
	}
	return ev, nil
}

// oneLine shortens s to n runes on one line, for a table cell.
func oneLine(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if c == '\n' || c == '\r' || c == '\t' {
			r[i] = ' '
		}
	}
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return string(r)
}
