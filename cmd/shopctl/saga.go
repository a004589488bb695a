package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wdm-knative/webshop/internal/api"
	"github.com/wdm-knative/webshop/internal/inspect"
)

// sagaReport is what `saga show` prints: an order's sagas (newest first)
// and their ledger rows.
type sagaReport struct {
	OrderID       string                 `json:"order_id"`
	OrderStatus   string                 `json:"order_status"`
	Sagas         []inspect.Saga         `json:"sagas"`
	StockLedger   []inspect.StockEntry   `json:"stock_ledger"`
	PaymentLedger []inspect.PaymentEntry `json:"payment_ledger"`
}

func sagaShow(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("saga show")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: saga show takes one ORDER_ID", errUsage)
	}
	orderID, err := api.ParseID("ORDER_ID", pos[0])
	if err != nil {
		return fmt.Errorf("%w: malformed order id %q: %w", errUsage, pos[0], err)
	}
	ss, err := openSession(ctx, nil)
	if err != nil {
		return err
	}
	defer ss.close()
	ctx, orders := ss.ctx, ss.order

	r := sagaReport{OrderID: orderID}
	r.OrderStatus, err = inspect.OrderStatus(ctx, orders, orderID)
	if errors.Is(err, inspect.ErrUnknownOrder) {
		// A saga outlives its order (orders/remove), so look anyway.
		r.OrderStatus = "(no such order)"
	} else if err != nil {
		return err
	}
	r.Sagas, err = inspect.Sagas(ctx, orders, orderID)
	switch {
	case errors.Is(err, inspect.ErrNoSaga) && r.OrderStatus == "(no such order)":
		return fmt.Errorf("%w: unknown order %q", errNotFound, orderID)
	case errors.Is(err, inspect.ErrNoSaga):
		return fmt.Errorf("%w: order %q (status %s) was never checked out", errNotFound, orderID, r.OrderStatus)
	case err != nil:
		return err
	}
	ids := make([]string, len(r.Sagas))
	for i, sg := range r.Sagas {
		ids[i] = sg.ID
	}
	if r.StockLedger, err = readLedger(ctx, ss.settings, "stock", func(c *pgx.Conn) ([]inspect.StockEntry, error) {
		return inspect.StockLedger(ctx, c, ids)
	}); err != nil {
		return err
	}
	if r.PaymentLedger, err = readLedger(ctx, ss.settings, "payment", func(c *pgx.Conn) ([]inspect.PaymentEntry, error) {
		return inspect.PaymentLedger(ctx, c, ids)
	}); err != nil {
		return err
	}
	if *f.output == "json" {
		return writeJSON(out, r)
	}
	printSagaReport(out, r)
	return nil
}

func readLedger[E any](ctx context.Context, s settings, db string, read func(*pgx.Conn) ([]E, error)) ([]E, error) {
	conn, err := s.database(ctx, db)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := read(conn)
	if rows == nil {
		rows = []E{}
	}
	return rows, err
}

func printSagaReport(out io.Writer, r sagaReport) {
	fmt.Fprintf(out, "order %s (status %s): %d saga(s), newest first\n", r.OrderID, r.OrderStatus, len(r.Sagas))
	for _, sg := range r.Sagas {
		fmt.Fprintln(out)
		tw := newTable(out)
		row(tw, "saga", sg.ID)
		row(tw, "status", sg.Status)
		row(tw, "stock step", sg.Stock)
		row(tw, "payment step", sg.Payment)
		row(tw, "waits for", orDash(strings.Join(sg.WaitsFor, "; ")))
		row(tw, "reason", orDash(sg.Reason))
		row(tw, "user", sg.UserID)
		row(tw, "total cost", fmt.Sprint(sg.TotalCost))
		row(tw, "items", string(sg.Items))
		row(tw, "sweep re-sends", fmt.Sprint(sg.Attempts))
		row(tw, "created", stamp(sg.CreatedAt))
		row(tw, "updated", stamp(sg.UpdatedAt))
		decided := "-"
		if sg.DecidedAt != nil {
			decided = stamp(*sg.DecidedAt) + " (after " + sg.DecidedAt.Sub(sg.CreatedAt).Round(time.Millisecond).String() + ")"
		}
		row(tw, "decided", decided)
		_ = tw.Flush()
	}
	fmt.Fprintln(out, "\nstock ledger:")
	tw := newTable(out)
	row(tw, "SAGA", "STATE", "ITEMS", "REASON", "CREATED", "UPDATED")
	for _, e := range r.StockLedger {
		row(tw, e.SagaID, e.State, string(e.Items), orDash(e.Reason), stamp(e.CreatedAt), stamp(e.UpdatedAt))
	}
	if len(r.StockLedger) == 0 {
		row(tw, "(none: stock never saw these sagas)")
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "\npayment ledger:")
	tw = newTable(out)
	row(tw, "SAGA", "USER", "STATE", "AMOUNT", "REASON", "CREATED", "UPDATED")
	for _, e := range r.PaymentLedger {
		row(tw, e.SagaID, e.UserID, e.State, fmt.Sprint(e.Amount), orDash(e.Reason), stamp(e.CreatedAt), stamp(e.UpdatedAt))
	}
	if len(r.PaymentLedger) == 0 {
		row(tw, "(none: payment never saw these sagas)")
	}
	_ = tw.Flush()
}

func sagaStuck(ctx context.Context, args []string, out io.Writer) error {
	f := newFlags("saga stuck")
	olderThan := f.Duration("older-than", 10*time.Second, "list running sagas created longer ago than this")
	limit := f.Int("limit", 100, "list at most this many")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: saga stuck takes no arguments, got %q", errUsage, pos)
	}
	if *olderThan < 0 || *limit < 1 {
		return fmt.Errorf("%w: --older-than must be >= 0 and --limit >= 1", errUsage)
	}
	ss, err := openSession(ctx, nil)
	if err != nil {
		return err
	}
	defer ss.close()
	stuck, err := inspect.Stuck(ss.ctx, ss.order, *olderThan, *limit)
	if err != nil {
		return err
	}
	if *f.output == "json" {
		return writeJSON(out, stuck)
	}
	if len(stuck) == 0 {
		fmt.Fprintf(out, "no saga has been running for longer than %s\n", *olderThan)
		return nil
	}
	tw := newTable(out)
	row(tw, "ORDER", "SAGA", "STATUS", "STOCK", "PAYMENT", "WAITS FOR", "RE-SENDS", "AGE", "UPDATED")
	now := time.Now()
	for _, sg := range stuck {
		row(tw, sg.OrderID, sg.ID, sg.Status, sg.Stock, sg.Payment, strings.Join(sg.WaitsFor, "; "),
			fmt.Sprint(sg.Attempts), now.Sub(sg.CreatedAt).Round(time.Second).String(), stamp(sg.UpdatedAt))
	}
	return tw.Flush()
}
