// Package schematest checks CloudEvents against the JSON Schemas of package
// schemas. Tests of every package that emits saga events call Check on what
// the code emits, so the Go types and the schema files cannot drift apart.
package schematest

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wdm-knative/webshop/schemas"
)

var (
	once     sync.Once
	compiled map[string]*jsonschema.Schema
	loadErr  error
)

// Compile compiles the schema of every event type, keyed by event type.
func Compile() (map[string]*jsonschema.Schema, error) {
	once.Do(func() { compiled, loadErr = compile() })
	return compiled, loadErr
}

func compile() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	names, err := fs.Glob(schemas.Files, "*.json")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		b, err := fs.ReadFile(schemas.Files, name)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := c.AddResource(schemas.BaseURI+name, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, typ := range schemas.Types() {
		s, err := c.Compile(schemas.BaseURI + schemas.FileName(typ))
		if err != nil {
			return nil, fmt.Errorf("schema of %s: %w", typ, err)
		}
		out[typ] = s
	}
	return out, nil
}

// Validate checks that e is a valid CloudEvent of one of the saga's types,
// in the shape every emitter promises (JSON data, subject = saga id), and
// that its data satisfies the type's schema.
func Validate(e event.Event) error {
	all, err := Compile()
	if err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return fmt.Errorf("cloudevent: %w", err)
	}
	s, ok := all[e.Type()]
	if !ok {
		return fmt.Errorf("no schema for event type %q", e.Type())
	}
	if got, want := e.DataSchema(), schemas.DataSchema(e.Type()); got != want {
		return fmt.Errorf("%s: dataschema %q, want %q (its schema's $id)", e.Type(), got, want)
	}
	if ct := e.DataContentType(); ct != event.ApplicationJSON {
		return fmt.Errorf("%s: datacontenttype %q, want %q", e.Type(), ct, event.ApplicationJSON)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(e.Data()))
	if err != nil {
		return fmt.Errorf("%s data: %w", e.Type(), err)
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("%s data: %w", e.Type(), err)
	}
	if m, ok := inst.(map[string]any); !ok || m["saga_id"] != e.Subject() {
		return fmt.Errorf("%s: subject %q is not the data's saga_id", e.Type(), e.Subject())
	}
	return nil
}

// Check fails the test unless Validate accepts e.
func Check(t testing.TB, e event.Event) {
	t.Helper()
	if err := Validate(e); err != nil {
		t.Errorf("emitted event breaks its schema: %v\n%s", err, e)
	}
}

// Reply runs a func-style CloudEvent handler on in and returns its reply,
// failing the test on an error, on no reply, or on a reply that breaks its
// schema.
func Reply(t testing.TB, h func(context.Context, event.Event) (*event.Event, error), in event.Event) event.Event {
	t.Helper()
	out, err := h(context.Background(), in)
	if err != nil {
		t.Fatalf("%s: %v", in.Type(), err)
	}
	if out == nil {
		t.Fatalf("%s: no reply", in.Type())
	}
	Check(t, *out)
	return *out
}
