package shopimages

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/wdm-knative/webshop/cluster/internal/funcdeploy"
	"github.com/wdm-knative/webshop/cluster/internal/image"
	"github.com/wdm-knative/webshop/knative/funcscaffold"
)

// FuncRepo is where the image `func build` would push goes in containerd.
const FuncRepo = "dev.local/webshop/func"

// Func is the image `func build` makes of the function whose func.yaml is
// at funcYAML: func 1.21's instanced-http scaffolding (knative/funcscaffold,
// what func writes into .func/build) compiled with func.yaml's build envs,
// as Paketo's go-build compiles it, run as the non-root user.
//
// Two things differ from Paketo, both because this image has no base: the
// binary must be static, so CGO_ENABLED=0 must be among the build envs and
// it is not built -buildmode=pie (a PIE needs the dynamic loader); and it
// sits at /ko-app/NAME instead of in a buildpack layer.
func Func(ctx context.Context, funcYAML, cache string) (image.Spec, error) {
	f, err := funcdeploy.Read(funcYAML)
	if err != nil {
		return image.Spec{}, err
	}
	root, err := filepath.Abs(filepath.Dir(funcYAML))
	if err != nil {
		return image.Spec{}, err
	}
	// What go-build sets, then func.yaml's build envs (later wins).
	env := []string{"GO111MODULE=auto"}
	for _, e := range f.Build.BuildEnvs {
		if e.Name == nil || e.Value == nil {
			return image.Spec{}, fmt.Errorf("%s: a build env without a name or value", funcYAML)
		}
		env = append(env, *e.Name+"="+*e.Value)
	}
	if cgo := lastValue(env, "CGO_ENABLED"); cgo != "0" {
		return image.Spec{}, fmt.Errorf("%s: build envs give CGO_ENABLED=%q; the image has no libc, so it must be 0", funcYAML, cgo)
	}

	fn, err := funcscaffold.ReadModule(ctx, root)
	if err != nil {
		return image.Spec{}, err
	}
	if err := os.MkdirAll(filepath.Join(cache, "shop"), 0o755); err != nil {
		return image.Spec{}, err
	}
	dir, err := os.MkdirTemp(filepath.Join(cache, "shop"), "func-build-")
	if err != nil {
		return image.Spec{}, err
	}
	defer os.RemoveAll(dir)
	// func 1.21's layout: no merge of the function's requirements
	// (knative/func#3436 came later), so GOFLAGS=-mod=mod settles go.mod.
	if err := funcscaffold.Write(ctx, dir, root, fn, false); err != nil {
		return image.Spec{}, err
	}
	bin := filepath.Join(cache, "shop", f.Name+".func.tmp")
	cmd := funcscaffold.Command(ctx, dir, env, "build", "-trimpath", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		return image.Spec{}, fmt.Errorf("go build of func's scaffolding with %v: %w\n%s", env, err, out)
	}
	return image.Binary(FuncRepo, f.Name, bin, image.NonRoot), nil
}

// lastValue is the value the last NAME=... in env gives NAME, as exec does.
func lastValue(env []string, name string) string {
	v := ""
	for _, e := range env {
		if k, val, ok := strings.Cut(e, "="); ok && k == name {
			v = val
		}
	}
	return v
}
