package broker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The dispatcher's fast path. An event is validated once, where it enters
// the broker (the ingress, or a reply as it is read); from then on it moves
// between AMQP headers and binary-mode HTTP headers attribute by attribute,
// never rebuilt as an SDK event: the broker is on every hop of the
// checkout, three publishes and four deliveries each.

// contentTypeAttr is the attribute carried as Content-Type in binary mode.
const contentTypeAttr = "datacontenttype"

// deliveryRequest is the binary-mode POST of a stored event to target.
func deliveryRequest(ctx context.Context, target string, dl *amqp.Delivery) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(dl.Body))
	if err != nil {
		return nil, err
	}
	for name, raw := range dl.Headers {
		s, ok := raw.(string)
		if !ok || strings.HasPrefix(name, rabbitHeaderPrefix) {
			continue
		}
		if name == contentTypeAttr {
			req.Header["Content-Type"] = []string{s}
			continue
		}
		req.Header[http.CanonicalHeaderKey("ce-"+name)] = []string{s}
	}
	return req, nil
}

// checkStored reports whether a message carries a CloudEvent as the broker
// stores them (only the broker publishes to its exchange, so this is a guard
// against someone publishing by hand, not a validation).
func checkStored(dl *amqp.Delivery) error {
	for _, attr := range []string{"specversion", "id", "source", "type"} {
		if s, _ := dl.Headers[attr].(string); s == "" {
			return fmt.Errorf("%w: no %s header", ErrNotCloudEvent, attr)
		}
	}
	return nil
}

// replyPublishing reads the binary-mode reply event of a 2xx response as a
// persistent message, or nil when the response carries none. This is where
// a reply enters the broker, so it is validated here: the required
// attributes, a known spec version, attribute names as the spec allows.
func replyPublishing(resp *http.Response) (*amqp.Publishing, error) {
	version := resp.Header.Get("Ce-Specversion")
	if version == "" {
		if resp.Header.Get("Ce-Id") != "" || strings.HasPrefix(resp.Header.Get("Content-Type"), "application/cloudevents") {
			return nil, fmt.Errorf("reply: only binary-mode events with ce-specversion are taken")
		}
		return nil, nil // a plain 2xx acknowledges and replies nothing
	}
	if version != "1.0" && version != "0.3" {
		return nil, fmt.Errorf("reply: specversion %q", version)
	}
	headers := amqp.Table{}
	for name, vs := range resp.Header {
		if len(vs) == 0 || len(name) <= 3 || !strings.EqualFold(name[:3], "ce-") {
			continue
		}
		attr := strings.ToLower(name[3:])
		if !validAttrName(attr) {
			return nil, fmt.Errorf("reply: attribute name %q", attr)
		}
		headers[attr] = vs[0]
	}
	for _, attr := range []string{"id", "source", "type"} {
		if s, _ := headers[attr].(string); s == "" {
			return nil, fmt.Errorf("reply: no %s", attr)
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return nil, fmt.Errorf("reply: %w", err)
	}
	ct := resp.Header.Get("Content-Type")
	if ct != "" && len(body) > 0 {
		headers[contentTypeAttr] = ct
	}
	return &amqp.Publishing{
		Headers:      headers,
		ContentType:  ct,
		MessageId:    headers["id"].(string),
		DeliveryMode: amqp.Persistent,
		Body:         body,
	}, nil
}

// validAttrName: CloudEvents attribute names are lower-case ASCII letters
// and digits (a '-' would also collide with RabbitMQ's x- headers).
func validAttrName(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}
