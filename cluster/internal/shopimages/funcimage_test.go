package shopimages

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wdm-knative/webshop/cluster/internal/image"
)

// TestFuncImage builds the shop's func image as Func does and checks what
// the cluster needs of it: a static binary of func's scaffolding, run as
// the non-root user.
func TestFuncImage(t *testing.T) {
	spec, err := Func(t.Context(), "../../../func.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if spec.Ref != FuncRepo || spec.User != image.NonRoot || len(spec.Entrypoint) != 1 || spec.Entrypoint[0] != "/ko-app/webshop" {
		t.Errorf("spec %s, user %s, entrypoint %v", spec.Ref, spec.User, spec.Entrypoint)
	}
	bin, err := elf.Open(spec.Files[0].Source)
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary needs a dynamic loader; the image has none")
		}
	}
	// func-go's http.Start, not the shop's cmd/function: the scaffolding's main.
	syms, err := bin.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var start bool
	for _, s := range syms {
		start = start || strings.HasPrefix(s.Name, "knative.dev/func-go/http.Start")
	}
	if !start {
		t.Error("the binary lacks knative.dev/func-go/http.Start")
	}
}

// TestFuncImageNeedsCGOOff: a cgo binary would need a libc the image lacks.
func TestFuncImageNeedsCGOOff(t *testing.T) {
	dir := t.TempDir()
	doc := "name: f\nbuild:\n  buildEnvs:\n    - name: CGO_ENABLED\n      value: \"1\"\n"
	if err := os.WriteFile(filepath.Join(dir, "func.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Func(t.Context(), filepath.Join(dir, "func.yaml"), t.TempDir()); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED") {
		t.Errorf("want a CGO_ENABLED error, got %v", err)
	}
}
