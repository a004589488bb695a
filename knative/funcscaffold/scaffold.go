// Package funcscaffold writes what Knative func's Go scaffolding writes
// into .func/build for the root function: the instanced-http main
// (knative.dev/func-go) and its go.mod, which func's builders compile. It
// is a package of its own so that knative/func_test.go's build check and
// the cluster's func image (cluster/internal/shopimages) build the same
// files.
//
// From 1.21 on, func copies its instanced-http scaffolding (templates.go)
// into .func/build, links f there to the function's root and edits go.mod
// with golang.org/x/mod/modfile (pkg/scaffolding/scaffold.go): the
// function's go version, and its real module path required and replaced
// by ./f where the template has "function"; main.go imports that path.
// 1.21 carries nothing else over (knative/func#3431). knative/func#3436,
// merged after 1.21 was released, also adds the function's requirements
// whose paths the template does not already require, and appends its
// go.sum (Write's merge).
package funcscaffold

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Module is what the scaffolding reads of a go.mod (go mod edit -json).
type Module struct {
	Module  struct{ Path string }
	Go      string
	Require []struct{ Path, Version string }
}

// ReadModule reads the go.mod of the module at dir.
func ReadModule(ctx context.Context, dir string) (Module, error) {
	var m Module
	out, err := Command(ctx, dir, nil, "mod", "edit", "-json").Output()
	if err != nil {
		return m, fmt.Errorf("go mod edit -json in %s: %w", dir, err)
	}
	if err := json.Unmarshal(out, &m); err != nil {
		return m, fmt.Errorf("go mod edit -json in %s: %w", dir, err)
	}
	return m, nil
}

// Write writes into dir (func's .func/build) the scaffolding for the
// function whose module fn is at root: without (merge false, func 1.21)
// or with (#3436) the merge of its requirements and go.sum. go mod edit
// makes modfile's edits in func's order.
func Write(ctx context.Context, dir, root string, fn Module, merge bool) error {
	if err := os.Symlink(root, filepath.Join(dir, "f")); err != nil {
		return err
	}
	sum := goSum
	if merge {
		fnSum, err := os.ReadFile(filepath.Join(root, "go.sum"))
		if err != nil {
			return err
		}
		sum += string(fnSum)
	}
	files := map[string]string{
		"go.mod":  goMod,
		"go.sum":  sum,
		"main.go": strings.ReplaceAll(mainGo, "function", fn.Module.Path),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	edit := []string{"mod", "edit"}
	if fn.Go != "" {
		edit = append(edit, "-go="+fn.Go)
	}
	edit = append(edit, "-dropreplace=function", "-replace="+fn.Module.Path+"=./f",
		"-droprequire=function", "-require="+fn.Module.Path+"@v0.0.0-00010101000000-000000000000")
	if err := goRun(ctx, dir, edit); err != nil {
		return err
	}
	if !merge {
		return nil
	}
	s, err := ReadModule(ctx, dir)
	if err != nil {
		return err
	}
	existing := map[string]bool{}
	for _, r := range s.Require {
		existing[r.Path] = true
	}
	edit = []string{"mod", "edit"}
	for _, r := range fn.Require {
		if !existing[r.Path] {
			edit = append(edit, "-require="+r.Path+"@"+r.Version)
		}
	}
	return goRun(ctx, dir, edit)
}

// Command runs go in dir as a builder would: no workspace, the toolchain
// at hand, and no GOFLAGS but env's.
func Command(ctx context.Context, dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS="), env...)
	return cmd
}

func goRun(ctx context.Context, dir string, args []string) error {
	if out, err := Command(ctx, dir, nil, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}
