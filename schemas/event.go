package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/cloudevents/sdk-go/v2/event"
)

// decoders read the data of each saga event type into its Go type.
var decoders = map[string]func([]byte) (Data, error){
	TypeCheckoutRequested:  decode[CheckoutRequested],
	TypeStockReserved:      decode[StockReserved],
	TypeStockRejected:      decode[StockRejected],
	TypePaymentDebited:     decode[PaymentDebited],
	TypePaymentRejected:    decode[PaymentRejected],
	TypeCheckoutCompensate: decode[CheckoutCompensate],
	TypeStockReleased:      decode[StockReleased],
	TypePaymentRefunded:    decode[PaymentRefunded],
	TypeCheckoutPaid:       decode[CheckoutPaid],
	TypeCheckoutFailed:     decode[CheckoutFailed],
}

// Types lists the saga's event types (each has a schema file).
func Types() []string {
	return slices.Sorted(maps.Keys(decoders))
}

// Source is the CloudEvent source of events an operation emits.
func Source(operationName string) string { return "/webshop/" + operationName }

// RequestedID is the id of a saga's checkout.requested event. It is the same
// for every (re)send, so participants and logs see one event, not many.
func RequestedID(sagaID string) string { return sagaID + ":requested" }

// CompensateID is the id of a saga's checkout.compensate event, the same for
// every (re)send.
func CompensateID(sagaID string) string { return sagaID + ":compensate" }

// OutcomeID is the id of a saga's outcome event (shop.checkout.paid or
// shop.checkout.failed): one id per saga whatever its outcome, so a
// subscriber that de-duplicates on it can never count a saga twice.
func OutcomeID(sagaID string) string { return sagaID + ":outcome" }

// ReplyID is the id of the reply of type typ to the input event in. It is a
// function of the input's source and id, so a redelivered input gets a reply
// with the same id (CloudEvents consumers may deduplicate on source+id).
func ReplyID(in event.Event, typ string) string {
	h := sha256.New()
	for _, s := range []string{in.Source(), in.ID(), typ} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// New builds a CloudEvent with JSON data. It fails if data breaks its schema
// or the event is not valid CloudEvents, which is a bug of the caller.
func New(id, source, typ string, data Data) (event.Event, error) {
	if err := data.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("new %s: %w", typ, err)
	}
	e := event.New()
	e.SetID(id)
	e.SetSource(source)
	e.SetType(typ)
	e.SetDataSchema(DataSchema(typ))
	e.SetSubject(data.Saga())
	if err := e.SetData(event.ApplicationJSON, data); err != nil {
		return event.Event{}, fmt.Errorf("new %s: %w", typ, err)
	}
	if err := e.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("new %s: %w", typ, err)
	}
	return e, nil
}

// Reply builds the reply of type typ to the input event in.
func Reply(in event.Event, source, typ string, data Data) (*event.Event, error) {
	e, err := New(ReplyID(in, typ), source, typ, data)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// Decode reads the data of a saga event into its Go type and validates it.
// Errors wrap ErrInvalid: an unknown type, bad JSON or a broken rule are all
// permanent.
func Decode(e event.Event) (Data, error) {
	dec, ok := decoders[e.Type()]
	if !ok {
		return nil, fmt.Errorf("%w: unknown event type %q", ErrInvalid, e.Type())
	}
	d, err := dec(e.Data())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", e.Type(), err)
	}
	return d, nil
}

// DecodeAs decodes e, which must be of the type whose data is T.
func DecodeAs[T Data](e event.Event) (T, error) {
	var zero T
	d, err := Decode(e)
	if err != nil {
		return zero, err
	}
	t, ok := d.(T)
	if !ok {
		return zero, fmt.Errorf("%w: unexpected event type %q", ErrInvalid, e.Type())
	}
	return t, nil
}

func decode[T Data](b []byte) (Data, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}
