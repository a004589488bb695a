// Command gen rewrites the Knative manifests derived from internal/operation
// (knative/base/services.yaml, knative/base/httproutes.yaml,
// knative/base/eventtypes.yaml).
//
//	go run ./knative/gen            # from the repository root
package main

import (
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/wdm-knative/webshop/knative"
)

func main() {
	dir := flag.String("dir", "knative", "the knative/ directory to write into")
	flag.Parse()
	files, err := knative.Generated()
	if err != nil {
		slog.Error("render manifests", "err", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := filepath.Join(*dir, name)
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			slog.Error("write manifest", "path", path, "err", err)
			os.Exit(1)
		}
		slog.Info("wrote", "path", path)
	}
}
