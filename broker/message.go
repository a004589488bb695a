package broker

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cloudevents/sdk-go/v2/binding/spec"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	amqp "github.com/rabbitmq/amqp091-go"
)

// ErrNotCloudEvent is an AMQP message on a broker queue that does not carry
// a CloudEvent (someone published to the exchange by hand).
var ErrNotCloudEvent = errors.New("message is not a CloudEvent")

// rabbitHeaderPrefix marks headers RabbitMQ itself adds (x-death, x-match...);
// CloudEvent extension names cannot contain '-', so nothing collides.
const rabbitHeaderPrefix = "x-"

// toPublishing turns a CloudEvent into a persistent AMQP message: every
// context attribute and extension becomes a header named like the attribute
// (so a headers exchange can route on them, as eventing-rabbitmq does), in its
// canonical string form (so a binding's string values compare equal), and the
// data is the body unchanged.
func toPublishing(ev *event.Event) (amqp.Publishing, error) {
	headers := make(amqp.Table, 8+len(ev.Extensions()))
	set := func(name, v string) {
		if v != "" {
			headers[name] = v
		}
	}
	set("specversion", ev.SpecVersion())
	set("id", ev.ID())
	set("source", ev.Source())
	set("type", ev.Type())
	set("subject", ev.Subject())
	set("dataschema", ev.DataSchema())
	set(contentTypeAttr, ev.DataContentType())
	if t := ev.Time(); !t.IsZero() {
		set("time", types.FormatTime(t))
	}
	for name, val := range ev.Extensions() {
		s, err := types.Format(val)
		if err != nil {
			return amqp.Publishing{}, fmt.Errorf("extension %s: %w", name, err)
		}
		headers[name] = s
	}
	return amqp.Publishing{
		Headers:      headers,
		ContentType:  ev.DataContentType(),
		MessageId:    ev.ID(),
		DeliveryMode: amqp.Persistent,
		Body:         ev.Data(),
	}, nil
}

// fromDelivery rebuilds the CloudEvent that toPublishing stored.
func fromDelivery(d *amqp.Delivery) (*event.Event, error) {
	sv, _ := d.Headers["specversion"].(string)
	v := spec.VS.Version(sv)
	if v == nil {
		return nil, fmt.Errorf("%w: specversion %q", ErrNotCloudEvent, sv)
	}
	ev := event.New(v.String())
	for name, raw := range d.Headers {
		if name == "specversion" || strings.HasPrefix(name, rabbitHeaderPrefix) {
			continue
		}
		s, ok := raw.(string)
		if !ok {
			// Only toPublishing writes these messages, and it writes strings.
			return nil, fmt.Errorf("%w: header %s is %T", ErrNotCloudEvent, name, raw)
		}
		if a := v.Attribute(name); a != nil {
			if err := a.Set(ev.Context, s); err != nil {
				return nil, fmt.Errorf("%w: attribute %s: %v", ErrNotCloudEvent, name, err)
			}
			continue
		}
		ev.SetExtension(name, s)
	}
	if len(d.Body) > 0 {
		ev.DataEncoded = d.Body
	}
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotCloudEvent, err)
	}
	return &ev, nil
}
