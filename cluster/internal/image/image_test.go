package image

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// entries are the headers of a tar stream (a layer, or a written image), by name.
func entries(t *testing.T, r io.Reader) map[string]*tar.Header {
	t.Helper()
	out := map[string]*tar.Header{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = h
	}
}

// build is Build of a spec the test expects to be valid.
func build(t *testing.T, s Spec) v1.Image {
	t.Helper()
	img, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestTarLaysOutFiles(t *testing.T) {
	src := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(src, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	layer, err := Tar(append(base(), File{Path: "/ko-app/prog", Source: src}, File{Path: "/bin/sh", Link: "/usr/bin/busybox"}))
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, bytes.NewReader(layer))
	tests := []struct {
		name     string
		entry    string
		typeflag byte
		mode     int64
	}{
		{"tmp is writable by anyone", "tmp/", tar.TypeDir, 0o1777},
		{"parent folder made", "ko-app/", tar.TypeDir, 0o755},
		{"binary keeps its mode", "ko-app/prog", tar.TypeReg, 0o755},
		{"passwd names the non-root user", "etc/passwd", tar.TypeReg, 0o644},
		{"symlink", "bin/sh", tar.TypeSymlink, 0o777},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, ok := got[tc.entry]
			if !ok {
				t.Fatalf("no %s in layer", tc.entry)
			}
			if h.Typeflag != tc.typeflag || h.Mode != tc.mode || h.Uid != 0 {
				t.Errorf("%s: type %c mode %o uid %d, want type %c mode %o uid 0", tc.entry, h.Typeflag, h.Mode, h.Uid, tc.typeflag, tc.mode)
			}
		})
	}
}

func TestTarRejectsRelativePaths(t *testing.T) {
	if _, err := Tar([]File{{Path: "etc/x", Data: []byte("x")}}); err == nil {
		t.Fatal("a relative path was accepted")
	}
}

func TestBuild(t *testing.T) {
	spec := Spec{Ref: "dev.local/wdm/x", User: NonRoot, Entrypoint: []string{"/x"}}
	cf, err := build(t, spec).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != spec.User || cf.Config.Entrypoint[0] != spec.Entrypoint[0] || cf.OS != "linux" {
		t.Errorf("config %+v", cf.Config)
	}
}

func TestWriteTags(t *testing.T) {
	img := build(t, Binary("dev.local/wdm/x", "x", "/dev/null", NonRoot))
	tests := []struct {
		name    string
		ref     string
		wantErr bool
	}{
		{"tagged", "dev.local/wdm/x:v1", false},
		{"latest makes kubelet pull", "dev.local/wdm/x:latest", true},
		{"untagged", "dev.local/wdm/x", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Write(img, tc.ref, filepath.Join(t.TempDir(), "x.tar"))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestSameFilesSameDigest(t *testing.T) {
	spec := Spec{Ref: "dev.local/wdm/x", Files: []File{{Path: "/a", Data: []byte("a")}}, Entrypoint: []string{"/a"}}
	digest := func(s Spec) string {
		d, err := build(t, s).Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	if digest(spec) != digest(spec) {
		t.Fatal("the same image gave two digests")
	}
	other := spec
	other.Entrypoint = []string{"/b"}
	if digest(spec) == digest(other) {
		t.Fatal("a different entrypoint kept the digest, the content key of a tag")
	}
}

func TestWriteMakesATarball(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.tar")
	img := build(t, Spec{Ref: "dev.local/wdm/x", Entrypoint: []string{"/x"}})
	if _, err := Write(img, "dev.local/wdm/x:v1", file); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if names := entries(t, f); names["manifest.json"] == nil {
		t.Fatalf("no manifest.json in %v", slices.Sorted(maps.Keys(names)))
	}
}
