package knative

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"text/template"

	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/schemas"
)

// templateFiles holds one template per generated file, named after it
// (services.yaml.tmpl renders base/services.yaml), and httproute.yaml.tmpl,
// the HTTPRoutes both route files share.
//
//go:embed templates/*.yaml.tmpl
var templateFiles embed.FS

// templates are templateFiles parsed, each named by its file name.
var templates = template.Must(template.ParseFS(templateFiles, "templates/*.yaml.tmpl"))

// execute renders the template of a generated file under GeneratedHeader.
func execute(name string, data any) ([]byte, error) {
	b := bytes.NewBufferString(GeneratedHeader)
	if err := templates.ExecuteTemplate(b, name+".tmpl", data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Generated renders the files derived from internal/operation, keyed by their
// path relative to the knative/ directory.
func Generated() (map[string][]byte, error) {
	renderers := map[string]func() ([]byte, error){
		"base/eventtypes.yaml": renderEventTypes,
		"base/services.yaml":   renderServices,
		"base/httproutes.yaml": renderRoutes,
		"overlays/bench/admin-httproutes.yaml": func() ([]byte, error) {
			return renderAdminRoutes("admin-httproutes.yaml", knativeIngress)
		},
		"overlays/local-admin/admin-httproutes.yaml": func() ([]byte, error) {
			return renderAdminRoutes("local-admin-httproutes.yaml", localIngress)
		},
	}
	files := make(map[string][]byte, len(renderers))
	for name, render := range renderers {
		b, err := render()
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		files[name] = b
	}
	return files, nil
}

// serviceView is one Service of services.yaml.tmpl.
type serviceView struct {
	operation.Operation
	Scaling
	Env          []EnvVar
	Image        string
	Namespace    string
	Port         int
	Readiness    string
	Liveness     string
	SinkLabel    string
	DomainKey    string
	TierKey      string
	ComponentKey string
	WhyComment   string
}

func renderServices() ([]byte, error) {
	var views []serviceView
	for _, op := range operation.All {
		s := ScalingFor(op)
		views = append(views, serviceView{
			Operation: op, Scaling: s, Env: Env(op), Image: Image, Namespace: Namespace,
			Port: ContainerPort, Readiness: ReadinessPath, Liveness: LivenessPath,
			SinkLabel: SinkLabel, DomainKey: LabelDomain, TierKey: LabelTier, ComponentKey: LabelComponent,
			WhyComment: comment(op.Name + ": " + s.Why),
		})
	}
	return execute("services.yaml", views)
}

// routeView is one HTTPRoute of httproute.yaml.tmpl.
type routeView struct {
	Name, Namespace, Gateway  string
	IngressService, IngressNS string
	Rules                     []ruleView
}

type ruleView struct {
	RouteRule
	Host string
}

func renderRoutes() ([]byte, error) {
	tables, err := RouteTables()
	if err != nil {
		return nil, err
	}
	return renderRouteTables("httproutes.yaml", knativeIngress, nil, tables, RouteName)
}

// ingress is the cluster-local gateway an HTTPRoute forwards to.
type ingress struct{ service, namespace string }

var (
	knativeIngress = ingress{IngressService, IngressNamespace}
	// localIngress is Traefik's cluster-local entry point on the local
	// cluster, which the local overlay's replacements put into the base's
	// HTTPRoutes (the local-admin kustomization has no base to take it from).
	localIngress = ingress{LocalIngressService, LocalIngressNamespace}
)

func renderAdminRoutes(file string, to ingress) ([]byte, error) {
	tables, err := AdminRouteTables()
	if err != nil {
		return nil, err
	}
	return renderRouteTables(file, to, map[string]string{
		"webshop.wdm/admin": `"true"`,
		// The bench overlay cannot label these alone; base labels the rest.
		PhaseLabel: "routing",
	}, tables, AdminRouteName)
}

// renderRouteTables renders the route tables with the template of file,
// forwarding to the gateway to and naming each HTTPRoute by its public
// prefix; labels are extra labels on each.
func renderRouteTables(file string, to ingress, labels map[string]string, tables map[string][]RouteRule, name func(string) string) ([]byte, error) {
	publics := make([]string, 0, len(tables))
	for p := range tables {
		publics = append(publics, p)
	}
	slices.Sort(publics)
	var views []routeView
	for _, p := range publics {
		v := routeView{Name: name(p), Namespace: Namespace, Gateway: GatewayName,
			IngressService: to.service, IngressNS: to.namespace}
		for _, r := range tables[p] {
			v.Rules = append(v.Rules, ruleView{RouteRule: r, Host: InternalHost(r.Service)})
		}
		views = append(views, v)
	}
	data := struct {
		Ingress string
		Labels  map[string]string
		Routes  []routeView
	}{to.service + "." + to.namespace, labels, views}
	return execute(file, data)
}

// comment wraps text into YAML comment lines of at most ~100 columns.
func comment(text string) string {
	var lines []string
	line := "#"
	for _, word := range strings.Fields(text) {
		if len(line)+1+len(word) > 100 && line != "#" {
			lines = append(lines, line)
			line = "#"
		}
		line += " " + word
	}
	return strings.Join(append(lines, line), "\n")
}

// EventTypeAPIVersion is the EventType version written: the storage version
// of knative.dev/eventing v0.42 (go.mod), whose SetDefaults and Validate the
// tests run; v1beta3 is served too, v1beta1 is deprecated.
const EventTypeAPIVersion = "eventing.knative.dev/v1beta2"

// pingDescription describes the one type without a schema in schemas/.
const pingDescription = "The PingSource's tick (no data the shop reads): drives the saga's recovery sweep " +
	"and the dead letters' pruning."

// eventTypeView is one EventType of eventtypes.yaml.tmpl.
type eventTypeView struct {
	Name, Namespace, Broker, Type, Schema, Description string
}

func renderEventTypes() ([]byte, error) {
	var views []eventTypeView
	for _, typ := range operation.BrokerTypes() {
		v := eventTypeView{Name: EventTypeName(typ), Namespace: Namespace, Broker: BrokerName, Type: typ,
			Description: pingDescription}
		if typ != schemas.TypePing {
			doc, err := fs.ReadFile(schemas.Files, schemas.FileName(typ))
			if err != nil {
				return nil, fmt.Errorf("event type %s: %w", typ, err)
			}
			var head struct{ Description string }
			if err := json.Unmarshal(doc, &head); err != nil {
				return nil, fmt.Errorf("schema of %s: %w", typ, err)
			}
			v.Schema, v.Description = schemas.DataSchema(typ), head.Description
		}
		views = append(views, v)
	}
	return execute("eventtypes.yaml", struct {
		APIVersion string
		Types      []eventTypeView
	}{EventTypeAPIVersion, views})
}
