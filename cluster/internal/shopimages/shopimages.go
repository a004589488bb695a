// Package shopimages builds the images that run on the cluster beside its
// own parts: the shop's function (from the shop's tree, as one static
// binary like func's Go scaffolding makes), a Postgres made of this
// machine's Debian Postgres, and the smoke test's small event app. Each is
// tagged with its content's hash and imported into the node's containerd.
package shopimages

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/wdm-knative/webshop/cluster/internal/image"
	"github.com/wdm-knative/webshop/cluster/internal/phases"
)

// PostgresBin is Debian's Postgres 15.
const PostgresBin = "/usr/lib/postgresql/15/bin"

// GoBinary builds one static binary of pkg in module dir into the cache,
// named after its content's hash.
func GoBinary(ctx context.Context, moduleDir, pkg, cache, name string) (string, error) {
	tmp := filepath.Join(cache, "shop", name+".tmp")
	if err := os.MkdirAll(filepath.Dir(tmp), 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, pkg)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return tmp, nil
}

// Function is the shop's function image: cmd/function (the root package
// behind a main, as func's scaffolding serves it) and cmd/migrate, as the
// non-root user.
func Function(ctx context.Context, shopRoot, cache string) (image.Spec, error) {
	fn, err := GoBinary(ctx, shopRoot, "./cmd/function", cache, "function")
	if err != nil {
		return image.Spec{}, err
	}
	migrate, err := GoBinary(ctx, shopRoot, "./cmd/migrate", cache, "migrate")
	if err != nil {
		return image.Spec{}, err
	}
	spec := image.Binary("dev.local/webshop/function", "function", fn, image.NonRoot)
	spec.Files = append(spec.Files, image.File{Path: "/ko-app/migrate", Source: migrate})
	return spec, nil
}

// Postgres is Debian's Postgres 15 with its libraries, share folder and a
// busybox shell, starting as the non-root user: initdb on first start
// into PGDATA, then postgres listening on every address of the pod.
func Postgres() (image.Spec, error) {
	progs := []string{PostgresBin + "/postgres", PostgresBin + "/initdb", PostgresBin + "/pg_ctl",
		PostgresBin + "/psql", PostgresBin + "/pg_isready", "/usr/bin/busybox"}
	files, err := image.HostFiles(progs...)
	if err != nil {
		return image.Spec{}, fmt.Errorf("postgres image (apt-get install postgresql busybox-static): %w", err)
	}
	for _, dir := range []string{"/usr/lib/postgresql/15/lib", "/usr/share/postgresql/15"} {
		tree, err := image.Tree(dir)
		if err != nil {
			return image.Spec{}, err
		}
		files = append(files, tree...)
	}
	libs, err := image.HostFiles(soFiles(files)...)
	if err != nil {
		return image.Spec{}, err
	}
	files = append(files, libs...)
	for _, z := range []string{"/usr/share/zoneinfo/UTC", "/usr/share/zoneinfo/Etc/UTC"} {
		files = append(files, image.File{Path: z, Source: z})
	}
	for _, tool := range []string{"sh", "mkdir", "ls", "cat"} {
		files = append(files, image.File{Path: "/bin/" + tool, Link: "/usr/bin/busybox"})
	}
	start := `set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb -D "$PGDATA" -U postgres -A trust --no-locale -E UTF8 >/dev/null
  # Pods reach it over the pod network; the cluster's namespace has no way in from outside.
  echo "host all all 0.0.0.0/0 trust" >> "$PGDATA/pg_hba.conf"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp -c max_connections=200 "$@"`
	return image.Spec{
		Ref:        "dev.local/wdm/postgres",
		User:       image.NonRoot,
		Files:      files,
		Env:        []string{"PATH=" + PostgresBin + ":/bin:/usr/bin", "PGDATA=/var/lib/postgresql/data/pgdata", "TZ=UTC", "PGHOST=/tmp"},
		Entrypoint: []string{"/bin/sh", "-c", start, "postgres"},
	}, nil
}

// soFiles are the shared objects among files (Postgres' extension
// modules), whose own libraries the image needs too.
func soFiles(files []image.File) []string {
	var out []string
	for _, f := range files {
		if f.Source != "" && strings.HasSuffix(f.Source, ".so") {
			out = append(out, f.Source)
		}
	}
	return out
}

// Load writes spec's image (tagged with the hash of its content) into the
// cache and imports it into the cluster's containerd; it returns the
// reference to use in manifests.
func Load(ctx context.Context, info phases.Info, spec image.Spec) (string, error) {
	img, err := image.Build(spec)
	if err != nil {
		return "", err
	}
	// The digest of an image with fixed timestamps is a key of its content.
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	ref := spec.Ref + ":" + digest.Hex[:12]
	tar := filepath.Join(info.Cache, "images", strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".tar")
	if _, err := os.Stat(tar); err != nil {
		if _, err := image.Write(img, ref, tar); err != nil {
			return "", err
		}
	}
	if err := phases.ImportImage(ctx, info.ContainerdSock, tar); err != nil {
		return "", err
	}
	return ref, nil
}

// App is the smoke test's event app (cluster/smoke/smokeapp).
func App(ctx context.Context, clusterModule, cache string) (image.Spec, error) {
	bin, err := GoBinary(ctx, clusterModule, "./smoke/smokeapp", cache, "smokeapp")
	if err != nil {
		return image.Spec{}, err
	}
	return image.Binary("dev.local/wdm/smokeapp", "smokeapp", bin, image.NonRoot), nil
}

// KoBuild does here what `ko build --bare PKG` does for a registry: builds
// the package of the Go module in moduleDir as a static binary at
// /ko-app/NAME, as the non-root user, imports the image into the
// cluster's containerd as repo, and returns repo@sha256:DIGEST (also a
// name in containerd, so a pod spec can pin the digest and the CRI plugin
// finds it without a pull).
func KoBuild(ctx context.Context, info phases.Info, moduleDir, pkg, repo string) (string, error) {
	name := filepath.Base(pkg)
	bin, err := GoBinary(ctx, moduleDir, pkg, info.Cache, name)
	if err != nil {
		return "", err
	}
	return Pin(ctx, info, image.Binary(repo, name, bin, image.NonRoot))
}

// Pin loads spec's image like Load and returns it as repo@sha256:DIGEST,
// a name containerd knows too.
func Pin(ctx context.Context, info phases.Info, spec image.Spec) (string, error) {
	repo := spec.Ref
	ref, err := Load(ctx, info, spec)
	if err != nil {
		return "", err
	}
	digest, err := phases.ImageDigest(ctx, info.ContainerdSock, ref)
	if err != nil {
		return "", err
	}
	pinned := repo + "@" + digest
	if err := phases.TagImage(ctx, info.ContainerdSock, ref, pinned); err != nil {
		return "", err
	}
	return pinned, nil
}
