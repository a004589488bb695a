// Command scalechart draws an autoscaling run on a cluster (make
// cluster-test, docs/cluster.md): Locust's requests/s and users from its
// stats history beside the pods of each Service from a CSV sampled every
// few seconds.
//
//	scalechart -pods pods.csv -locust locust_stats_history.csv -title T -out autoscaling.svg
//
// pods.csv has a header "unix,SERVICE,..." and a row a sample: the Unix
// time, then each Service's pods. Services that never had a pod are left
// out of the chart.
package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/wdm-knative/webshop/tools/loadtest"
)

func main() {
	pods := flag.String("pods", "", "the pods CSV")
	locust := flag.String("locust", "", "Locust's --csv PREFIX_stats_history.csv")
	title := flag.String("title", "Autoscaling under Locust", "the chart's title")
	out := flag.String("out", "autoscaling.svg", "the SVG to write")
	flag.Parse()
	if err := run(*pods, *locust, *title, *out); err != nil {
		fmt.Fprintln(os.Stderr, "scalechart:", err)
		os.Exit(1)
	}
}

func run(podsFile, locustFile, title, out string) error {
	podRows, err := readCSV(podsFile)
	if err != nil {
		return err
	}
	history, err := readCSV(locustFile)
	if err != nil {
		return err
	}
	if len(podRows) < 3 || len(history) < 2 {
		return errors.New("too few rows to draw")
	}
	s := loadtest.Scaling{Title: title}
	first, err := strconv.ParseFloat(podRows[1][0], 64)
	if err != nil {
		return fmt.Errorf("%s: %w", podsFile, err)
	}
	second, err := strconv.ParseFloat(podRows[2][0], 64)
	if err != nil {
		return fmt.Errorf("%s: %w", podsFile, err)
	}
	s.PodEvery = second - first
	for col, name := range podRows[0][1:] {
		sp := loadtest.ServicePods{Service: name}
		for _, row := range podRows[1:] {
			n, err := strconv.ParseFloat(row[col+1], 64)
			if err != nil {
				return fmt.Errorf("%s: %w", podsFile, err)
			}
			sp.Pods = append(sp.Pods, n)
		}
		if slices.Max(sp.Pods) > 0 {
			s.Pods = append(s.Pods, sp)
		}
	}

	// Locust's history: a row a second, "Aggregated" rows only without
	// --csv-full-history.
	cols := map[string]int{}
	for i, h := range history[0] {
		cols[h] = i
	}
	for _, c := range []string{"Timestamp", "User Count", "Requests/s", "Name"} {
		if _, ok := cols[c]; !ok {
			return fmt.Errorf("%s: no column %q", locustFile, c)
		}
	}
	var start float64
	for i, row := range history[1:] {
		if row[cols["Name"]] != "Aggregated" {
			continue
		}
		ts, err1 := strconv.ParseFloat(row[cols["Timestamp"]], 64)
		users, err2 := strconv.ParseFloat(row[cols["User Count"]], 64)
		rate, err3 := strconv.ParseFloat(row[cols["Requests/s"]], 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return fmt.Errorf("%s row %d: %w", locustFile, i+2, err)
		}
		if start == 0 {
			start = ts
			s.LoadStart = ts - first
		}
		for len(s.Requests) < int(ts-start) { // seconds Locust wrote no row for
			s.Requests, s.Users = append(s.Requests, rate), append(s.Users, users)
		}
		s.Requests, s.Users = append(s.Requests, rate), append(s.Users, users)
	}
	svg, err := loadtest.ScalingChart(s)
	if err != nil {
		return err
	}
	return os.WriteFile(out, svg, 0o644)
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	return r.ReadAll()
}
