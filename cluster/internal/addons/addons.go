// Package addons renders what runs in the cluster as pods: CoreDNS, Traefik
// and Knative Serving and Eventing. Knative's YAML is read from its own
// module sources, as released, and changed only where this cluster needs
// it: images built here, never pulled, small requests for one 2-core node,
// Traefik as the ingress, short autoscaling windows.
package addons

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"
)

//go:embed manifests/*.yaml
var manifests embed.FS

// Values fill the embedded manifests.
type Values struct {
	ClusterDomain string
	DNSIP         string
	Images        map[string]string // short name -> reference, e.g. "coredns"
}

// Render fills one embedded manifest ("coredns", "traefik").
func Render(name string, v Values) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").ParseFS(manifests, "manifests/"+name+".yaml")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name+".yaml", v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Doc is one Kubernetes object as decoded YAML.
type Doc map[string]any

// Kind, Name and Namespace read the object's identity.
func (d Doc) Kind() string { s, _ := d["kind"].(string); return s }

// Name is metadata.name.
func (d Doc) Name() string { return d.meta("name") }

// Namespace is metadata.namespace.
func (d Doc) Namespace() string { return d.meta("namespace") }

func (d Doc) meta(key string) string {
	m, _ := d["metadata"].(map[string]any)
	s, _ := m[key].(string)
	return s
}

// Decode splits a multi-document YAML stream into objects, skipping
// empty documents.
func Decode(r io.Reader) ([]Doc, error) {
	dec := yaml.NewDecoder(r)
	var docs []Doc
	for {
		// Into a plain map: yaml.v3 would give nested mappings the named
		// type too, and the accessors expect map[string]any.
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(d) > 0 {
			docs = append(docs, Doc(d))
		}
	}
}

// Encode joins objects into one stream, each starting with "---" (the
// release files do not, so plain concatenation would merge documents).
func Encode(docs []Doc) ([]byte, error) {
	var b bytes.Buffer
	for _, d := range docs {
		b.WriteString("---\n")
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(map[string]any(d)); err != nil {
			return nil, fmt.Errorf("%s %s: %w", d.Kind(), d.Name(), err)
		}
		enc.Close()
	}
	return b.Bytes(), nil
}

// ReadTree decodes every .yaml file under the given folders (in name
// order), leaving out files whose base name is in skip.
func ReadTree(skip []string, dirs ...string) ([]Doc, error) {
	var docs []Doc
	for _, dir := range dirs {
		var files []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(p, ".yaml") && !slices.Contains(skip, d.Name()) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			ds, err := Decode(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			docs = append(docs, ds...)
		}
	}
	return docs, nil
}

// GatewayAPI is the standard channel's CRDs of sigs.k8s.io/gateway-api
// (its module folder in the Go module cache), which Traefik's Gateway API
// provider serves.
func GatewayAPI(moduleDir string) ([]Doc, error) {
	return ReadTree(nil, filepath.Join(moduleDir, "config", "crd", "standard"))
}
