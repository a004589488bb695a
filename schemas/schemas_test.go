package schemas_test

import (
	"bytes"
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wdm-knative/webshop/schemas"
	"github.com/wdm-knative/webshop/schemas/schematest"
)

// samples has one valid data value per event type.
var samples = map[string]schemas.Data{
	schemas.TypeCheckoutRequested: schemas.CheckoutRequested{SagaID: "s1", OrderID: "o1", UserID: "u1",
		Items: []schemas.Item{{ItemID: "i1", Quantity: 2}, {ItemID: "i2", Quantity: 1}}, TotalCost: 30},
	schemas.TypeStockReserved:      schemas.StockReserved{SagaID: "s1", OrderID: "o1", Items: []schemas.Item{{ItemID: "i1", Quantity: 2}}},
	schemas.TypeStockRejected:      schemas.StockRejected{SagaID: "s1", OrderID: "o1", Reason: schemas.ReasonInsufficientStock, ItemID: "i1"},
	schemas.TypePaymentDebited:     schemas.PaymentDebited{SagaID: "s1", OrderID: "o1", UserID: "u1", Amount: 30},
	schemas.TypePaymentRejected:    schemas.PaymentRejected{SagaID: "s1", OrderID: "o1", UserID: "u1", Reason: schemas.ReasonCompensated},
	schemas.TypeCheckoutCompensate: schemas.CheckoutCompensate{SagaID: "s1", OrderID: "o1", UserID: "u1", Reason: schemas.ReasonDeadline},
	schemas.TypeStockReleased:      schemas.StockReleased{SagaID: "s1", OrderID: "o1", Items: []schemas.Item{}},
	schemas.TypePaymentRefunded:    schemas.PaymentRefunded{SagaID: "s1", OrderID: "o1", UserID: "u1", Amount: 0},
	schemas.TypeCheckoutPaid: schemas.CheckoutPaid{SagaID: "s1", OrderID: "o1", UserID: "u1",
		Items: []schemas.PricedItem{{ItemID: "i1", Quantity: 2, UnitPrice: 10}, {ItemID: "i2", Quantity: 1, UnitPrice: 0}}, TotalCost: 20},
	schemas.TypeCheckoutFailed: schemas.CheckoutFailed{SagaID: "s1", OrderID: "o1", UserID: "u1",
		Reason: schemas.ReasonInsufficientCredit, EverythingReturned: true},
}

func TestEveryTypeHasASchemaAndASample(t *testing.T) {
	files, err := fs.Glob(schemas.Files, "shop.*.json")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, typ := range schemas.Types() {
		want = append(want, schemas.FileName(typ))
		if _, ok := samples[typ]; !ok {
			t.Errorf("no sample for %s", typ)
		}
	}
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("schema files %v, event types want %v", files, want)
	}
	if _, err := schematest.Compile(); err != nil {
		t.Fatalf("compile schemas: %v", err)
	}
}

func TestSamplesRoundTrip(t *testing.T) {
	for typ, data := range samples {
		t.Run(typ, func(t *testing.T) {
			e, err := schemas.New("id-1", schemas.Source("test"), typ, data)
			if err != nil {
				t.Fatal(err)
			}
			schematest.Check(t, e)
			got, err := schemas.Decode(e)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, data) {
				t.Errorf("decoded %#v, want %#v", got, data)
			}
		})
	}
}

// TestGoAndSchemaAgree feeds raw data documents to both the JSON Schema and
// the Go decoder: they must accept and reject the same ones.
func TestGoAndSchemaAgree(t *testing.T) {
	long := strings.Repeat("x", 129)
	cases := []struct {
		name  string
		typ   string
		data  string
		valid bool
	}{
		{"requested ok", schemas.TypeCheckoutRequested, `{"saga_id":"s","order_id":"o","user_id":"u","items":[{"item_id":"i","quantity":1}],"total_cost":0}`, true},
		{"requested no items", schemas.TypeCheckoutRequested, `{"saga_id":"s","order_id":"o","user_id":"u","items":[],"total_cost":1}`, false},
		{"requested zero quantity", schemas.TypeCheckoutRequested, `{"saga_id":"s","order_id":"o","user_id":"u","items":[{"item_id":"i","quantity":0}],"total_cost":1}`, false},
		{"requested negative cost", schemas.TypeCheckoutRequested, `{"saga_id":"s","order_id":"o","user_id":"u","items":[{"item_id":"i","quantity":1}],"total_cost":-1}`, false},
		{"requested cost past int64", schemas.TypeCheckoutRequested, `{"saga_id":"s","order_id":"o","user_id":"u","items":[{"item_id":"i","quantity":1}],"total_cost":9223372036854775808}`, false},
		{"requested max int64", schemas.TypeCheckoutRequested, `{"saga_id":"s","order_id":"o","user_id":"u","items":[{"item_id":"i","quantity":9223372036854775807}],"total_cost":9223372036854775807}`, true},
		{"reserved missing saga", schemas.TypeStockReserved, `{"order_id":"o","items":[]}`, false},
		{"reserved control char id", schemas.TypeStockReserved, `{"saga_id":"a\u0001b","order_id":"o","items":[]}`, false},
		{"reserved id too long", schemas.TypeStockReserved, `{"saga_id":"` + long + `","order_id":"o","items":[]}`, false},
		{"reserved id 128", schemas.TypeStockReserved, `{"saga_id":"` + long[:128] + `","order_id":"o","items":[]}`, true},
		{"reserved items null", schemas.TypeStockReserved, `{"saga_id":"s","order_id":"o","items":null}`, false},
		{"rejected without item", schemas.TypeStockRejected, `{"saga_id":"s","order_id":"o","reason":"unknown_item"}`, true},
		{"rejected credit reason", schemas.TypeStockRejected, `{"saga_id":"s","order_id":"o","reason":"insufficient_credit"}`, false},
		{"payment rejected ok", schemas.TypePaymentRejected, `{"saga_id":"s","order_id":"o","user_id":"u","reason":"insufficient_credit"}`, true},
		{"payment rejected stock reason", schemas.TypePaymentRejected, `{"saga_id":"s","order_id":"o","user_id":"u","reason":"unknown_item"}`, false},
		{"compensate deadline", schemas.TypeCheckoutCompensate, `{"saga_id":"s","order_id":"o","user_id":"u","reason":"deadline"}`, true},
		{"compensate made-up reason", schemas.TypeCheckoutCompensate, `{"saga_id":"s","order_id":"o","user_id":"u","reason":"because"}`, false},
		{"debited negative", schemas.TypePaymentDebited, `{"saga_id":"s","order_id":"o","user_id":"u","amount":-5}`, false},
		{"refunded zero", schemas.TypePaymentRefunded, `{"saga_id":"s","order_id":"o","user_id":"u","amount":0}`, true},
		{"not an object", schemas.TypePaymentRefunded, `[1,2]`, false},
		{"paid ok", schemas.TypeCheckoutPaid, `{"saga_id":"s","order_id":"o","user_id":"u","items":[{"item_id":"i","quantity":2,"unit_price":5}],"total_cost":10}`, true},
		{"paid no items", schemas.TypeCheckoutPaid, `{"saga_id":"s","order_id":"o","user_id":"u","items":[],"total_cost":0}`, false},
		{"paid negative price", schemas.TypeCheckoutPaid, `{"saga_id":"s","order_id":"o","user_id":"u","items":[{"item_id":"i","quantity":2,"unit_price":-1}],"total_cost":10}`, false},
		{"paid zero quantity", schemas.TypeCheckoutPaid, `{"saga_id":"s","order_id":"o","user_id":"u","items":[{"item_id":"i","quantity":0,"unit_price":1}],"total_cost":0}`, false},
		{"failed ok", schemas.TypeCheckoutFailed, `{"saga_id":"s","order_id":"o","user_id":"u","reason":"deadline","everything_returned":true}`, true},
		{"failed not returned", schemas.TypeCheckoutFailed, `{"saga_id":"s","order_id":"o","user_id":"u","reason":"deadline","everything_returned":false}`, false},
		{"failed without returned", schemas.TypeCheckoutFailed, `{"saga_id":"s","order_id":"o","user_id":"u","reason":"deadline"}`, false},
		{"failed made-up reason", schemas.TypeCheckoutFailed, `{"saga_id":"s","order_id":"o","user_id":"u","reason":"because","everything_returned":true}`, false},
	}
	all, err := schematest.Compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(c.data)))
			if err != nil {
				t.Fatal(err)
			}
			schemaErr := all[c.typ].Validate(inst)
			e := event.New()
			e.SetID("x")
			e.SetSource("/test")
			e.SetType(c.typ)
			if err := e.SetData(event.ApplicationJSON, []byte(c.data)); err != nil {
				t.Fatal(err)
			}
			_, goErr := schemas.Decode(e)
			if (schemaErr == nil) != c.valid {
				t.Errorf("schema: valid=%v, want %v (%v)", schemaErr == nil, c.valid, schemaErr)
			}
			if (goErr == nil) != c.valid {
				t.Errorf("go: valid=%v, want %v (%v)", goErr == nil, c.valid, goErr)
			}
			if goErr != nil && !errors.Is(goErr, schemas.ErrInvalid) {
				t.Errorf("go error %v does not wrap ErrInvalid", goErr)
			}
		})
	}
}

func TestDecodeUnknownType(t *testing.T) {
	e := event.New()
	e.SetType("shop.unknown")
	if _, err := schemas.Decode(e); !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("got %v, want ErrInvalid", err)
	}
}

func TestReplyIDIsDeterministic(t *testing.T) {
	in := event.New()
	in.SetID("abc")
	in.SetSource("/src")
	a := schemas.ReplyID(in, schemas.TypeStockReserved)
	b := schemas.ReplyID(in, schemas.TypeStockReserved)
	c := schemas.ReplyID(in, schemas.TypePaymentDebited)
	if a != b {
		t.Errorf("same input, different ids %q %q", a, b)
	}
	if a == c {
		t.Errorf("different reply types share id %q", a)
	}
}
