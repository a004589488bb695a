package eventhttp

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
)

// The binary-mode HTTP binding of CloudEvents 1.0, written out for the hot
// path: the SDK's generic binding builds intermediate messages and converts
// every attribute through reflection, which the broker and the functions
// paid for on every delivery and every reply. Structured mode and other
// spec versions still go through the SDK.

// ceHeader is the prefix of a binary-mode attribute header.
const ceHeader = "Ce-"

// errNotBinary means the request is not a binary-mode CloudEvents 1.0 one.
var errNotBinary = errors.New("not a binary-mode CloudEvents 1.0 request")

// readBinary reads a binary-mode event from h and body. The caller validates.
func readBinary(h http.Header, body io.Reader) (event.Event, error) {
	if h.Get("Ce-Specversion") != event.CloudEventsVersionV1 {
		return event.Event{}, errNotBinary
	}
	e := event.New()
	for name, vs := range h {
		if len(vs) == 0 || !strings.HasPrefix(name, ceHeader) {
			continue
		}
		v := vs[0]
		switch attr := strings.ToLower(name[len(ceHeader):]); attr {
		case "specversion":
		case "id":
			e.SetID(v)
		case "source":
			e.SetSource(v)
		case "type":
			e.SetType(v)
		case "subject":
			e.SetSubject(v)
		case "dataschema":
			e.SetDataSchema(v)
		case "time":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return event.Event{}, fmt.Errorf("ce-time: %w", err)
			}
			e.SetTime(t)
		default:
			if err := e.Context.SetExtension(attr, v); err != nil { //nolint:staticcheck // validates the name
				return event.Event{}, fmt.Errorf("ce-%s: %w", attr, err)
			}
		}
	}
	var data []byte
	if body != nil {
		var err error
		if data, err = io.ReadAll(body); err != nil {
			return event.Event{}, err
		}
	}
	if len(data) > 0 {
		e.SetDataContentType(h.Get("Content-Type"))
		e.DataEncoded = data
	}
	return e, nil
}

// writeBinary sets e's attributes as Ce-* headers of h and returns the body.
func writeBinary(h http.Header, e event.Event) []byte {
	set := func(name, v string) {
		if v != "" {
			h[name] = []string{v}
		}
	}
	set("Ce-Specversion", event.CloudEventsVersionV1)
	set("Ce-Id", e.ID())
	set("Ce-Source", e.Source())
	set("Ce-Type", e.Type())
	set("Ce-Subject", e.Subject())
	set("Ce-Dataschema", e.DataSchema())
	if t := e.Time(); !t.IsZero() {
		set("Ce-Time", t.UTC().Format(time.RFC3339Nano))
	}
	for name, v := range e.Extensions() {
		s, err := types.ToString(v)
		if err == nil {
			set(http.CanonicalHeaderKey(ceHeader+name), s)
		}
	}
	set("Content-Type", e.DataContentType())
	return e.Data()
}
