package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

func writeJSON(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newTable(out io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(out, 0, 4, 2, ' ', 0) }

func row(tw *tabwriter.Writer, cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
