// Package funcdeploy renders the Knative Service that `func deploy` (Knative
// func 1.21, knative.dev/func v0.48.0) makes from a func.yaml, so that the
// Service func would create can be applied to the local cluster without the
// func CLI, which cannot be built here. What func does and where it does it
// is in docs/func-deploy.md.
package funcdeploy

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Func is func.yaml as far as func 1.21's schema (specVersion 0.36) goes
// for a Go function deployed by the knative deployer. Read rejects every
// other key, so a func.yaml that says something this package would not
// render fails instead of being half deployed.
type Func struct {
	SpecVersion string    `yaml:"specVersion"` // not rendered: the file's format
	Name        string    `yaml:"name"`
	Domain      string    `yaml:"domain"`
	Runtime     string    `yaml:"runtime"`
	Registry    string    `yaml:"registry"`  // not rendered: the push's, the image is given
	Image       string    `yaml:"image"`     // not rendered: likewise
	Namespace   string    `yaml:"namespace"` // func's target namespace, before deploy.namespace
	Created     time.Time `yaml:"created"`   // not rendered
	Invoke      string    `yaml:"invoke"`    // not rendered: picks the scaffolding (the image)
	Build       Build     `yaml:"build"`
	Run         Run       `yaml:"run"`
	Deploy      Deploy    `yaml:"deploy"`
}

// Build is func.yaml's build section: the image's, never the Service's.
type Build struct {
	Builder    string   `yaml:"builder"`
	BuildEnvs  []Env    `yaml:"buildEnvs"`
	Buildpacks []string `yaml:"buildpacks"`
}

// Run holds the environment the function runs with.
type Run struct {
	Envs []Env `yaml:"envs"`
}

// Env is one of run.envs or build.buildEnvs. Both are pointers as in func:
// an entry without a name imports a whole Secret or ConfigMap.
type Env struct {
	Name  *string `yaml:"name"`
	Value *string `yaml:"value"`
}

// Deploy is func.yaml's deploy section.
type Deploy struct {
	Namespace          string            `yaml:"namespace"`
	Image              string            `yaml:"image"` // not rendered: what func last deployed
	Annotations        map[string]string `yaml:"annotations"`
	Labels             []Label           `yaml:"labels"`
	HealthEndpoints    HealthEndpoints   `yaml:"healthEndpoints"`
	ServiceAccountName string            `yaml:"serviceAccountName"`
	Options            DeployOptions     `yaml:"options"`
}

// Label is one of deploy.labels; its value may be {{ env:NAME }}.
type Label struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
}

// HealthEndpoints are the probes' paths; func defaults both.
type HealthEndpoints struct {
	Liveness  string `yaml:"liveness"`
	Readiness string `yaml:"readiness"`
}

// DeployOptions are deploy.options: Knative's autoscaling and the
// container's resources.
type DeployOptions struct {
	Scale     *Scale     `yaml:"scale"`
	Resources *Resources `yaml:"resources"`
}

// Scale becomes the revision's autoscaling.knative.dev annotations.
type Scale struct {
	Min         *int64   `yaml:"min"`
	Max         *int64   `yaml:"max"`
	Metric      *string  `yaml:"metric"`
	Target      *float64 `yaml:"target"`
	Utilization *float64 `yaml:"utilization"`
}

// Resources are the container's requests and limits.
type Resources struct {
	Requests *Quantities `yaml:"requests"`
	Limits   *Limits     `yaml:"limits"`
}

// Quantities are a CPU and a memory quantity.
type Quantities struct {
	CPU    *string `yaml:"cpu"`
	Memory *string `yaml:"memory"`
}

// Limits are the container's limits and the revision's containerConcurrency.
type Limits struct {
	Quantities  `yaml:",inline"`
	Concurrency *int64 `yaml:"concurrency"`
}

// Read reads the func.yaml at path, rejecting keys Func does not have.
func Read(path string) (Func, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Func{}, err
	}
	return Parse(data)
}

// Parse is Read of func.yaml's bytes.
func Parse(data []byte) (Func, error) {
	var f Func
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return Func{}, fmt.Errorf("func.yaml: %w", err)
	}
	return f, nil
}
