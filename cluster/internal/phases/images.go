package phases

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/wdm-knative/webshop/cluster/internal/image"
)

// systemImage is one image of the cluster's own parts: a binary built here,
// under the name its manifests use.
type systemImage struct {
	short     string // key in Info.Images and the addons' Values
	koPath    string // the ko:// import path Knative's YAML names, if any
	component string
	binary    string
	repo      string
	version   string
	user      string
}

var systemImages = []systemImage{
	{"pause", "", "pause", "pause", "dev.local/wdm/pause", "3.10", "65535"},
	{"coredns", "", "coredns", "coredns", "dev.local/wdm/coredns", "v1.15.0", "0"},
	{"traefik", "", "traefik", "traefik", "dev.local/wdm/traefik", "v3.6.12", image.NonRoot},
	{"serving-controller", "knative.dev/serving/cmd/controller", "knative", "serving-controller", "", "v0.42.2", image.NonRoot},
	{"serving-webhook", "knative.dev/serving/cmd/webhook", "knative", "serving-webhook", "", "v0.42.2", image.NonRoot},
	{"serving-activator", "knative.dev/serving/cmd/activator", "knative", "serving-activator", "", "v0.42.2", image.NonRoot},
	{"serving-autoscaler", "knative.dev/serving/cmd/autoscaler", "knative", "serving-autoscaler", "", "v0.42.2", image.NonRoot},
	{"serving-queue", "knative.dev/serving/cmd/queue", "knative", "serving-queue", "", "v0.42.2", image.NonRoot},
	{"eventing-controller", "knative.dev/eventing/cmd/controller", "knative", "eventing-controller", "", "v0.42.3", image.NonRoot},
	{"eventing-webhook", "knative.dev/eventing/cmd/webhook", "knative", "eventing-webhook", "", "v0.42.3", image.NonRoot},
	{"eventing-jobsink", "knative.dev/eventing/cmd/jobsink", "knative", "eventing-jobsink", "", "v0.42.3", image.NonRoot},
	{"eventing-mtping", "knative.dev/eventing/cmd/mtping", "knative", "eventing-mtping", "", "v0.42.3", image.NonRoot},
	{"eventing-apiserver-receive-adapter", "knative.dev/eventing/cmd/apiserver_receive_adapter", "knative", "eventing-apiserver-receive-adapter", "", "v0.42.3", image.NonRoot},
	{"eventing-mtchannel-broker", "knative.dev/eventing/cmd/mtchannel_broker", "knative", "eventing-mtchannel-broker", "", "v0.42.3", image.NonRoot},
	{"eventing-broker-ingress", "knative.dev/eventing/cmd/broker/ingress", "knative", "eventing-broker-ingress", "", "v0.42.3", image.NonRoot},
	{"eventing-broker-filter", "knative.dev/eventing/cmd/broker/filter", "knative", "eventing-broker-filter", "", "v0.42.3", image.NonRoot},
	{"eventing-imc-controller", "knative.dev/eventing/cmd/in_memory/channel_controller", "knative", "eventing-imc-controller", "", "v0.42.3", image.NonRoot},
	{"eventing-imc-dispatcher", "knative.dev/eventing/cmd/in_memory/channel_dispatcher", "knative", "eventing-imc-dispatcher", "", "v0.42.3", image.NonRoot},
}

// koImages maps Knative's ko:// paths to the references built here.
func (r *run) koImages() map[string]string {
	m := map[string]string{}
	for _, s := range systemImages {
		if s.koPath != "" {
			m[s.koPath] = r.images[s.short]
		}
	}
	return m
}

// assembleImages makes each system image's tarball, once per binary: the
// tag carries the binary's hash, so a rebuilt binary is a new image.
func assembleImages(_ context.Context, r *run) error {
	for _, s := range systemImages {
		bin := filepath.Join(r.bins[s.component], s.binary)
		sum, err := fileHash(bin)
		if err != nil {
			return err
		}
		repo := s.repo
		if repo == "" {
			repo = "dev.local/knative/" + s.short
		}
		ref := fmt.Sprintf("%s:%s-%s", repo, s.version, sum[:8])
		if s.short == "pause" {
			// containerd's sandbox_image names it; keep that name fixed.
			ref = r.layout.PauseImage
		}
		tar := filepath.Join(r.Cache, "images", strings.NewReplacer("/", "_", ":", "_").Replace(ref)+"-"+sum[:12]+".tar")
		if _, err := os.Stat(tar); err != nil {
			img, err := image.Build(image.Binary(ref, s.binary, bin, s.user))
			if err != nil {
				return fmt.Errorf("image %s: %w", ref, err)
			}
			if _, err := image.Write(img, ref, tar); err != nil {
				return fmt.Errorf("image %s: %w", ref, err)
			}
			r.Log.Info("image assembled", "ref", ref)
		}
		r.images[s.short] = ref
		r.tars[ref] = tar
	}
	return nil
}

// importImages loads every tarball into the node's containerd, in the
// namespace the CRI plugin reads.
func (r *run) importImages(ctx context.Context) error {
	for ref, tar := range r.tars {
		if err := ImportImage(ctx, r.layout.ContainerdSocket(), tar); err != nil {
			return fmt.Errorf("import %s: %w", ref, err)
		}
	}
	r.Log.Info("images imported", "count", len(r.tars))
	return nil
}

// ImportImage imports an image tarball into a cluster's containerd.
func ImportImage(ctx context.Context, socket, tar string) error {
	_, err := ctr(ctx, socket, "images", "import", tar)
	return err
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func ctr(ctx context.Context, socket string, args ...string) ([]byte, error) {
	out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", socket, "-n", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return out, nil
}

// ImageDigest is the manifest digest containerd holds for ref.
func ImageDigest(ctx context.Context, socket, ref string) (string, error) {
	out, err := ctr(ctx, socket, "images", "ls", "name=="+ref)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == ref && strings.HasPrefix(f[2], "sha256:") {
			return f[2], nil
		}
	}
	return "", fmt.Errorf("containerd has no image %s:\n%s", ref, out)
}

// TagImage gives an image a second name in containerd.
func TagImage(ctx context.Context, socket, ref, name string) error {
	_, _ = ctr(ctx, socket, "images", "rm", name) // an earlier build's, if any
	_, err := ctr(ctx, socket, "images", "tag", ref, name)
	return err
}
