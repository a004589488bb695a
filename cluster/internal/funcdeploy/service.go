package funcdeploy

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// What func 1.21 adds to every Service on its own (GenerateCommonLabels
// in pkg/deployer/common.go): identity labels that win over deploy.labels.
const (
	LabelFunction = "boson.dev/function"
	LabelName     = "function.knative.dev/name"
	LabelRuntime  = "function.knative.dev/runtime"
	LabelDomain   = "func.domain"
)

// func 1.21's defaults (pkg/k8s: DefaultLivenessEndpoint,
// DefaultReadinessEndpoint, DefaultHTTPPort): the probes' paths when
// func.yaml names none, and the port they always name.
const (
	DefaultLiveness  = "/health/liveness"
	DefaultReadiness = "/health/readiness"
	HTTPPort         = 8080
)

// The revision annotations func writes deploy.options.scale into
// (knative.dev/serving's autoscaling keys).
const (
	AnnotationMinScale    = "autoscaling.knative.dev/min-scale"
	AnnotationMaxScale    = "autoscaling.knative.dev/max-scale"
	AnnotationMetric      = "autoscaling.knative.dev/metric"
	AnnotationTarget      = "autoscaling.knative.dev/target"
	AnnotationUtilization = "autoscaling.knative.dev/target-utilization-percentage"
)

// Options are what func takes from elsewhere than func.yaml.
type Options struct {
	Image     string                      // the image, pinned by digest as func deploys what it pushed
	Built     time.Time                   // func's BUILT variable, which makes every deploy a new revision
	LookupEnv func(string) (string, bool) // resolves {{ env:NAME }}; os.LookupEnv when nil
}

// Service is a serving.knative.dev/v1 Service with the fields func sets.
type Service struct {
	APIVersion string      `yaml:"apiVersion"`
	Kind       string      `yaml:"kind"`
	Metadata   Meta        `yaml:"metadata"`
	Spec       ServiceSpec `yaml:"spec"`
}

// Meta is object metadata.
type Meta struct {
	Name        string            `yaml:"name,omitempty"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// ServiceSpec is the Service's spec: only its revision template.
type ServiceSpec struct {
	Template Template `yaml:"template"`
}

// Template is the revision template.
type Template struct {
	Metadata Meta         `yaml:"metadata"`
	Spec     RevisionSpec `yaml:"spec"`
}

// RevisionSpec is the revision's pod spec and concurrency.
type RevisionSpec struct {
	ContainerConcurrency *int64      `yaml:"containerConcurrency,omitempty"`
	ServiceAccountName   string      `yaml:"serviceAccountName,omitempty"`
	Containers           []Container `yaml:"containers"`
}

// Container is the one container func deploys; it names no port, so
// Knative gives it 8080 and PORT.
type Container struct {
	Image           string                `yaml:"image"`
	Env             []EnvVar              `yaml:"env,omitempty"`
	EnvFrom         []EnvFrom             `yaml:"envFrom,omitempty"`
	Resources       *ResourceRequirements `yaml:"resources,omitempty"`
	LivenessProbe   Probe                 `yaml:"livenessProbe"`
	ReadinessProbe  Probe                 `yaml:"readinessProbe"`
	SecurityContext SecurityContext       `yaml:"securityContext"`
}

// EnvVar is a variable with a value or taken from a Secret's or
// ConfigMap's key.
type EnvVar struct {
	Name      string     `yaml:"name"`
	Value     string     `yaml:"value,omitempty"`
	ValueFrom *ValueFrom `yaml:"valueFrom,omitempty"`
}

// ValueFrom names the Secret's or ConfigMap's key a variable comes from.
type ValueFrom struct {
	SecretKeyRef    *KeyRef `yaml:"secretKeyRef,omitempty"`
	ConfigMapKeyRef *KeyRef `yaml:"configMapKeyRef,omitempty"`
}

// KeyRef is one key of a Secret or ConfigMap.
type KeyRef struct {
	Name string `yaml:"name"`
	Key  string `yaml:"key"`
}

// EnvFrom imports every key of a Secret or ConfigMap.
type EnvFrom struct {
	SecretRef    *NameRef `yaml:"secretRef,omitempty"`
	ConfigMapRef *NameRef `yaml:"configMapRef,omitempty"`
}

// NameRef names a Secret or ConfigMap.
type NameRef struct {
	Name string `yaml:"name"`
}

// ResourceRequirements are the container's requests and limits.
type ResourceRequirements struct {
	Requests map[string]string `yaml:"requests,omitempty"`
	Limits   map[string]string `yaml:"limits,omitempty"`
}

// Probe is an HTTP GET probe.
type Probe struct {
	HTTPGet HTTPGet `yaml:"httpGet"`
}

// HTTPGet is a probe's path and port.
type HTTPGet struct {
	Path string `yaml:"path"`
	Port int    `yaml:"port"`
}

// SecurityContext is what func sets on the container so that Knative's
// secure-pod-defaults warnings stay quiet.
type SecurityContext struct {
	RunAsNonRoot             bool           `yaml:"runAsNonRoot"`
	AllowPrivilegeEscalation bool           `yaml:"allowPrivilegeEscalation"`
	Capabilities             Capabilities   `yaml:"capabilities"`
	SeccompProfile           SeccompProfile `yaml:"seccompProfile"`
}

// Capabilities are the dropped capabilities.
type Capabilities struct {
	Drop []string `yaml:"drop"`
}

// SeccompProfile is the container's seccomp profile.
type SeccompProfile struct {
	Type string `yaml:"type"`
}

var (
	dnsLabel = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	quantity = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$`)
	// func's processLocalEnvValue: a value of this form is resolved, any
	// other is taken literally.
	localEnv = regexp.MustCompile(`^{{\s*(\w+)\s*:(\w+)\s*}}$`)
)

// Render makes the Service `func deploy` creates for f: what func's knative
// deployer (pkg/knative/deployer.go, generateNewService) builds before it
// calls the API. It fails where func would, and where f holds a value func
// would reject on load.
func Render(f Func, o Options) (Service, error) {
	var s Service
	if !dnsLabel.MatchString(f.Name) {
		return s, fmt.Errorf("name %q is not a DNS label", f.Name)
	}
	// func deploys into f.namespace when set (a new target), else where it
	// last deployed (deploy.namespace); it does not guess.
	namespace := f.Namespace
	if namespace == "" {
		namespace = f.Deploy.Namespace
	}
	if namespace == "" {
		return s, errors.New("neither namespace nor deploy.namespace is set")
	}
	if o.Image == "" {
		return s, errors.New("no image")
	}
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.Built.IsZero() {
		o.Built = time.Now()
	}

	labels, err := serviceLabels(f, o.LookupEnv)
	if err != nil {
		return s, err
	}
	env, envFrom, err := envs(f.Run.Envs, o)
	if err != nil {
		return s, err
	}
	// Service and revision get the same annotations; the autoscaling ones
	// only the revision (Knative refuses them on the Service).
	scale, err := scaleAnnotations(f.Deploy.Options.Scale)
	if err != nil {
		return s, err
	}
	revisionAnnotations := maps.Clone(f.Deploy.Annotations)
	if len(scale) > 0 && revisionAnnotations == nil {
		revisionAnnotations = map[string]string{}
	}
	maps.Copy(revisionAnnotations, scale)

	c := Container{
		Image:          o.Image,
		Env:            env,
		EnvFrom:        envFrom,
		LivenessProbe:  probe(f.Deploy.HealthEndpoints.Liveness, DefaultLiveness),
		ReadinessProbe: probe(f.Deploy.HealthEndpoints.Readiness, DefaultReadiness),
		SecurityContext: SecurityContext{
			RunAsNonRoot:             true,
			AllowPrivilegeEscalation: false,
			Capabilities:             Capabilities{Drop: []string{"ALL"}},
			SeccompProfile:           SeccompProfile{Type: "RuntimeDefault"},
		},
	}
	var concurrency *int64
	if r := f.Deploy.Options.Resources; r != nil {
		if c.Resources, err = resources(r); err != nil {
			return s, err
		}
		if r.Limits != nil && r.Limits.Concurrency != nil {
			if *r.Limits.Concurrency < 0 {
				return s, fmt.Errorf("deploy.options.resources.limits.concurrency %d < 0", *r.Limits.Concurrency)
			}
			concurrency = r.Limits.Concurrency
		}
	}

	return Service{
		APIVersion: "serving.knative.dev/v1",
		Kind:       "Service",
		Metadata: Meta{Name: f.Name, Namespace: namespace, Labels: labels,
			Annotations: maps.Clone(f.Deploy.Annotations)},
		Spec: ServiceSpec{Template: Template{
			Metadata: Meta{Labels: maps.Clone(labels), Annotations: revisionAnnotations},
			Spec: RevisionSpec{
				ContainerConcurrency: concurrency,
				ServiceAccountName:   f.Deploy.ServiceAccountName,
				Containers:           []Container{c},
			},
		}},
	}, nil
}

// YAML is s as a document for kubectl apply.
func (s Service) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// serviceLabels are deploy.labels with func's identity labels over them.
func serviceLabels(f Func, lookup func(string) (string, bool)) (map[string]string, error) {
	ll := map[string]string{}
	for _, l := range f.Deploy.Labels {
		if l.Key == "" {
			return nil, errors.New("a deploy.labels entry has no key")
		}
		v := l.Value
		if strings.HasPrefix(v, "{{") {
			var err error
			if v, err = localValue(v, lookup); err != nil {
				return nil, fmt.Errorf("label %s: %w", l.Key, err)
			}
		}
		ll[l.Key] = v
	}
	ll[LabelFunction] = "true"
	ll[LabelName] = f.Name
	ll[LabelRuntime] = f.Runtime
	if f.Domain != "" {
		ll[LabelDomain] = f.Domain
	}
	return ll, nil
}

// envs is func's ProcessEnvs: BUILT first, then run.envs in order, then
// ADDRESS=0.0.0.0 unless run.envs sets it (func-go listens on loopback
// otherwise, out of reach of Knative's queue-proxy and probes).
func envs(in []Env, o Options) ([]EnvVar, []EnvFrom, error) {
	out := []EnvVar{{Name: "BUILT", Value: o.Built.Format("20060102T150405")}}
	var from []EnvFrom
	address := false
	for _, e := range in {
		if e.Value == nil {
			return nil, nil, fmt.Errorf("run.envs entry %v has no value", e)
		}
		v := *e.Value
		if e.Name == nil {
			// {{ secret:NAME }} or {{ configMap:NAME }}: every key.
			ref, err := envFromSource(v)
			if err != nil {
				return nil, nil, err
			}
			from = append(from, ref)
			continue
		}
		name := *e.Name
		address = address || name == "ADDRESS"
		if !strings.HasPrefix(v, "{{") {
			out = append(out, EnvVar{Name: name, Value: v})
			continue
		}
		parts := strings.Split(strings.Trim(v, "{} "), ":")
		switch len(parts) {
		case 3:
			ref, err := keyRef(parts)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			out = append(out, EnvVar{Name: name, ValueFrom: ref})
		case 2:
			local, err := localValue(v, o.LookupEnv)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", name, err)
			}
			out = append(out, EnvVar{Name: name, Value: local})
		default:
			return nil, nil, fmt.Errorf("%s: unsupported value %q", name, v)
		}
	}
	if !address {
		out = append(out, EnvVar{Name: "ADDRESS", Value: "0.0.0.0"})
	}
	return out, from, nil
}

// keyRef is {{ secret:NAME:KEY }} or {{ configMap:NAME:KEY }}.
func keyRef(parts []string) (*ValueFrom, error) {
	kind, name, key := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])
	if name == "" || key == "" {
		return nil, fmt.Errorf("empty name or key in %q", strings.Join(parts, ":"))
	}
	ref := &KeyRef{Name: name, Key: key}
	switch kind {
	case "secret":
		return &ValueFrom{SecretKeyRef: ref}, nil
	case "configMap":
		return &ValueFrom{ConfigMapKeyRef: ref}, nil
	}
	return nil, fmt.Errorf("unsupported source %q (secret or configMap)", kind)
}

func envFromSource(v string) (EnvFrom, error) {
	parts := strings.Split(strings.Trim(v, "{} "), ":")
	if !strings.HasPrefix(v, "{{") || len(parts) != 2 || strings.TrimSpace(parts[1]) == "" {
		return EnvFrom{}, fmt.Errorf("run.envs entry without a name must be {{ secret:NAME }} or {{ configMap:NAME }}, not %q", v)
	}
	ref := &NameRef{Name: strings.TrimSpace(parts[1])}
	switch strings.TrimSpace(parts[0]) {
	case "secret":
		return EnvFrom{SecretRef: ref}, nil
	case "configMap":
		return EnvFrom{ConfigMapRef: ref}, nil
	}
	return EnvFrom{}, fmt.Errorf("unsupported source in %q (secret or configMap)", v)
}

// localValue resolves {{ env:NAME }} from the deploying machine's
// environment, as func does; a value of another form is kept as it is.
func localValue(v string, lookup func(string) (string, bool)) (string, error) {
	m := localEnv.FindStringSubmatch(v)
	if m == nil {
		return v, nil
	}
	if m[1] != "env" {
		return "", fmt.Errorf("only {{ env:NAME }} is resolved locally, not %q", v)
	}
	local, ok := lookup(m[2])
	if !ok {
		return "", fmt.Errorf("local environment variable %s is not set", m[2])
	}
	return local, nil
}

// scaleAnnotations formats as func does: integers for the bounds, %f for
// the targets ("100.000000").
func scaleAnnotations(s *Scale) (map[string]string, error) {
	aa := map[string]string{}
	if s == nil {
		return aa, nil
	}
	if s.Min != nil {
		if *s.Min < 0 {
			return nil, fmt.Errorf("scale.min %d < 0", *s.Min)
		}
		aa[AnnotationMinScale] = fmt.Sprintf("%d", *s.Min)
	}
	if s.Max != nil {
		if *s.Max < 0 || (s.Min != nil && *s.Min > *s.Max) {
			return nil, fmt.Errorf("scale.max %d below 0 or min", *s.Max)
		}
		aa[AnnotationMaxScale] = fmt.Sprintf("%d", *s.Max)
	}
	if s.Metric != nil {
		if *s.Metric != "concurrency" && *s.Metric != "rps" {
			return nil, fmt.Errorf("scale.metric %q: concurrency or rps", *s.Metric)
		}
		aa[AnnotationMetric] = *s.Metric
	}
	if s.Target != nil {
		if *s.Target < 0.01 {
			return nil, fmt.Errorf("scale.target %v < 0.01", *s.Target)
		}
		aa[AnnotationTarget] = fmt.Sprintf("%f", *s.Target)
	}
	if s.Utilization != nil {
		if *s.Utilization < 1 || *s.Utilization > 100 {
			return nil, fmt.Errorf("scale.utilization %v outside 1..100", *s.Utilization)
		}
		aa[AnnotationUtilization] = fmt.Sprintf("%f", *s.Utilization)
	}
	return aa, nil
}

func resources(r *Resources) (*ResourceRequirements, error) {
	out := &ResourceRequirements{}
	add := func(m *map[string]string, what string, q *string) error {
		if q == nil {
			return nil
		}
		if !quantity.MatchString(*q) {
			return fmt.Errorf("deploy.options.resources: %s %q is not a quantity", what, *q)
		}
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[what] = *q
		return nil
	}
	if q := r.Requests; q != nil {
		if err := errors.Join(add(&out.Requests, "cpu", q.CPU), add(&out.Requests, "memory", q.Memory)); err != nil {
			return nil, err
		}
	}
	if q := r.Limits; q != nil {
		if err := errors.Join(add(&out.Limits, "cpu", q.CPU), add(&out.Limits, "memory", q.Memory)); err != nil {
			return nil, err
		}
	}
	if out.Requests == nil && out.Limits == nil {
		return nil, nil
	}
	return out, nil
}

func probe(path, def string) Probe {
	if path == "" {
		path = def
	}
	return Probe{HTTPGet: HTTPGet{Path: path, Port: HTTPPort}}
}
