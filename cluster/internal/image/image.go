// Package image assembles container images from files built or installed on
// this machine, with no base image and no registry: one layer holding the
// files plus the few a program expects (/etc/passwd with its user, a
// writable /tmp), written as a tarball that containerd imports.
package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// NonRoot is the user Knative's Deployments expect (runAsNonRoot).
const NonRoot = "65532"

// File is one file of an image: from a host path, or given bytes.
type File struct {
	Path   string // inside the image, absolute
	Source string // host file to copy (its mode is kept) ...
	Data   []byte // ... or these bytes
	Mode   int64  // for Data; 0644 when zero
	Link   string // a symlink to this target instead
}

// Spec is an image to assemble.
type Spec struct {
	Ref        string // e.g. dev.local/knative/serving-controller:v0.42.2; never "latest"
	Files      []File
	Entrypoint []string
	Cmd        []string
	User       string
	Env        []string
	WorkDir    string
}

// Binary is an image of one static binary at /ko-app/NAME (where ko puts
// it), run as user.
func Binary(ref, name, bin, user string) Spec {
	return Spec{
		Ref:        ref,
		User:       user,
		Files:      []File{{Path: "/ko-app/" + name, Source: bin}},
		Entrypoint: []string{"/ko-app/" + name},
	}
}

// epoch fixes every timestamp, so the same files give the same digest.
var epoch = time.Unix(0, 0).UTC()

// base are the files every image gets: users for root and the non-root
// user, name-service order, and a /tmp any user may write.
func base() []File {
	return []File{
		{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{Path: "/etc/group", Data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{Path: "/etc/nsswitch.conf", Data: []byte("hosts: files dns\n")},
	}
}

// Build assembles the image of s (its Ref is only a name here: Write
// gives the image its tag).
func Build(s Spec) (v1.Image, error) {
	layerTar, err := Tar(append(base(), s.Files...))
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", s.Ref, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Cmd = s.Cmd
	cf.Config.User = s.User
	cf.Config.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/nonroot"}, s.Env...)
	cf.Config.WorkingDir = s.WorkDir
	return mutate.ConfigFile(img, cf)
}

// Write writes img as a tarball containerd can import, tagged ref: a tag,
// and never latest, which makes kubelet pull.
func Write(img v1.Image, ref, file string) (v1.Hash, error) {
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("image %q: %w", ref, err)
	}
	if tag.TagStr() == "latest" {
		return v1.Hash{}, fmt.Errorf("image %q: a latest tag makes kubelet pull it", ref)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return v1.Hash{}, err
	}
	tmp := file + ".tmp"
	if err := tarball.WriteToFile(tmp, tag, img); err != nil {
		return v1.Hash{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, err
	}
	return digest, os.Rename(tmp, file)
}

// Tar is the layer of files: parent folders made as needed, /tmp mode
// 1777, every entry owned by root with a fixed time.
func Tar(files []File) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{"/": true}
	addDir := func(dir string, mode int64) error {
		var chain []string
		for d := dir; !dirs[d]; d = path.Dir(d) {
			chain = append(chain, d)
		}
		slices.Reverse(chain)
		for _, d := range chain {
			dirs[d] = true
			m := int64(0o755)
			if d == dir && mode != 0 {
				m = mode
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/",
				Mode: m, ModTime: epoch}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := addDir("/tmp", 0o1777); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, f := range files {
		if !path.IsAbs(f.Path) {
			return nil, fmt.Errorf("%q is not an absolute path", f.Path)
		}
		p := path.Clean(f.Path)
		if seen[p] {
			continue
		}
		seen[p] = true
		if err := addDir(path.Dir(p), 0); err != nil {
			return nil, err
		}
		hdr := &tar.Header{Name: strings.TrimPrefix(p, "/"), ModTime: epoch}
		var data []byte
		switch {
		case f.Link != "":
			hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, f.Link, 0o777
		case f.Source != "":
			info, err := os.Stat(f.Source)
			if err != nil {
				return nil, err
			}
			if data, err = os.ReadFile(f.Source); err != nil {
				return nil, err
			}
			hdr.Typeflag, hdr.Mode = tar.TypeReg, int64(info.Mode().Perm())
		default:
			data = f.Data
			hdr.Typeflag, hdr.Mode = tar.TypeReg, f.Mode
			if hdr.Mode == 0 {
				hdr.Mode = 0o644
			}
		}
		hdr.Size = int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var lddLine = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x`)

// HostFiles are the given host programs and every shared library they load
// (as ldd lists them), each at its own path: how an image of a Debian
// program (Postgres, busybox) is made without a base image.
func HostFiles(programs ...string) ([]File, error) {
	var files []File
	seen := map[string]bool{}
	add := func(p string) error {
		if seen[p] {
			return nil
		}
		seen[p] = true
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return err
		}
		if real != p {
			files = append(files, File{Path: p, Link: real})
			if seen[real] {
				return nil
			}
			seen[real] = true
		}
		files = append(files, File{Path: real, Source: real})
		return nil
	}
	for _, prog := range programs {
		if err := add(prog); err != nil {
			return nil, err
		}
		out, err := exec.Command("ldd", prog).Output()
		if err != nil {
			// A static program: ldd says so and exits non-zero.
			if bytes.Contains(out, []byte("not a dynamic executable")) || len(out) == 0 {
				continue
			}
			return nil, fmt.Errorf("ldd %s: %w", prog, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if m := lddLine.FindStringSubmatch(sc.Text()); m != nil {
				if err := add(m[1]); err != nil {
					return nil, err
				}
			}
		}
	}
	return files, nil
}

// Tree is every regular file and symlink under a host folder, each at its
// own path (e.g. a program's share folder).
func Tree(root string) ([]File, error) {
	var files []File
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			files = append(files, File{Path: p, Link: target})
		case d.Type().IsRegular():
			files = append(files, File{Path: p, Source: p})
		}
		return nil
	})
	return files, err
}
