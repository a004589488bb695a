// Package operation is the one table of the web shop's operations. It feeds
// the root function (which handlers a process serves), the local gateway
// (which process serves a public path), the local stack (which processes to
// run) and the checks of the Knative manifests (one Service per operation).
package operation

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wdm-knative/webshop/schemas"
)

// Domain is the bounded context an operation belongs to; each has its own database.
type Domain string

// The domains, with the saga living beside orders (it shares the order database).
const (
	Order   Domain = "order"
	Stock   Domain = "stock"
	Payment Domain = "payment"
	Saga    Domain = "saga"
	// DeadLetters keeps the events the broker gave up on. A domain of its
	// own, so that locally it runs in a process of its own and storing a
	// dead letter never competes with the checkout path; its table lives
	// in the order database.
	DeadLetters Domain = "dead-letter"
)

// Database is the database a domain's operations use: the saga keeps its
// state beside the orders so that order status and saga state change in one
// local transaction, and the dead letters need no database of their own.
func (d Domain) Database() string {
	if d == Saga || d == DeadLetters {
		return string(Order)
	}
	return string(d)
}

// Operation is one deployable function: a Knative Service in a cluster, an
// operation a local process serves.
type Operation struct {
	Name   string   // Knative Service name, e.g. "stock-subtract"
	Domain Domain   // which database it uses
	Routes []string // public HTTP routes as net/http patterns, e.g. "POST /stock/subtract/{item_id}/{amount}"
	// EventPath is where the broker delivers CloudEvents to an event operation
	// (Trigger subscriber uri, relative to the Service). Empty for HTTP operations.
	EventPath string
	// Consumes are the CloudEvent types the operation's Triggers select.
	Consumes []string
	// DeadLetterSink marks the operation every Trigger's deadLetterSink
	// names; each delivery names its Trigger in the uri's query.
	DeadLetterSink bool
}

// Event reports whether the operation is a CloudEvent handler.
func (o Operation) Event() bool { return o.EventPath != "" }

// Operation names: Knative Service names, FUNCTION values, metric labels.
const (
	StockItemCreate   = "stock-item-create"
	StockFind         = "stock-find"
	StockAdd          = "stock-add"
	StockSubtract     = "stock-subtract"
	StockBatchInit    = "stock-batch-init"
	StockReserve      = "stock-reserve"
	StockRelease      = "stock-release"
	PaymentCreateUser = "payment-create-user"
	PaymentFindUser   = "payment-find-user"
	PaymentAddFunds   = "payment-add-funds"
	PaymentPay        = "payment-pay"
	PaymentCancel     = "payment-cancel"
	PaymentStatus     = "payment-status"
	PaymentBatchInit  = "payment-batch-init"
	PaymentDebit      = "payment-debit"
	PaymentRefund     = "payment-refund"
	OrderCreate       = "order-create"
	OrderFind         = "order-find"
	OrderAddItem      = "order-add-item"
	OrderRemoveItem   = "order-remove-item"
	OrderRemove       = "order-remove"
	OrderCheckout     = "order-checkout"
	OrderBatchInit    = "order-batch-init"
	SagaStep          = "saga-step"
	SagaSweep         = "saga-sweep"
	DeadLetter        = "dead-letter"
)

// All lists every operation. Order matters only for readability.
var All = []Operation{
	{Name: StockItemCreate, Domain: Stock, Routes: []string{"POST /stock/item/create/{price}"}},
	{Name: StockFind, Domain: Stock, Routes: []string{"GET /stock/find/{item_id}"}},
	{Name: StockAdd, Domain: Stock, Routes: []string{"POST /stock/add/{item_id}/{amount}"}},
	{Name: StockSubtract, Domain: Stock, Routes: []string{"POST /stock/subtract/{item_id}/{amount}"}},
	{Name: StockBatchInit, Domain: Stock, Routes: []string{"POST /stock/batch_init/{n}/{starting_stock}/{item_price}"}},
	{Name: StockReserve, Domain: Stock, EventPath: "/events/stock-reserve", Consumes: []string{schemas.TypeCheckoutRequested}},
	{Name: StockRelease, Domain: Stock, EventPath: "/events/stock-release", Consumes: []string{schemas.TypeCheckoutCompensate}},

	{Name: PaymentCreateUser, Domain: Payment, Routes: []string{"POST /payment/create_user"}},
	{Name: PaymentFindUser, Domain: Payment, Routes: []string{"GET /payment/find_user/{user_id}"}},
	{Name: PaymentAddFunds, Domain: Payment, Routes: []string{"POST /payment/add_funds/{user_id}/{amount}"}},
	{Name: PaymentPay, Domain: Payment, Routes: []string{
		"POST /payment/pay/{user_id}/{amount}",
		"POST /payment/pay/{user_id}/{order_id}/{amount}",
	}},
	{Name: PaymentCancel, Domain: Payment, Routes: []string{"POST /payment/cancel/{user_id}/{order_id}"}},
	{Name: PaymentStatus, Domain: Payment, Routes: []string{
		"GET /payment/status/{user_id}/{order_id}",
		"POST /payment/status/{user_id}/{order_id}",
	}},
	{Name: PaymentBatchInit, Domain: Payment, Routes: []string{"POST /payment/batch_init/{n}/{starting_money}"}},
	{Name: PaymentDebit, Domain: Payment, EventPath: "/events/payment-debit", Consumes: []string{schemas.TypeCheckoutRequested}},
	{Name: PaymentRefund, Domain: Payment, EventPath: "/events/payment-refund", Consumes: []string{schemas.TypeCheckoutCompensate}},

	{Name: OrderCreate, Domain: Order, Routes: []string{"POST /orders/create/{user_id}"}},
	{Name: OrderFind, Domain: Order, Routes: []string{"GET /orders/find/{order_id}"}},
	{Name: OrderAddItem, Domain: Order, Routes: []string{
		"POST /orders/addItem/{order_id}/{item_id}/{quantity}",
		"POST /orders/addItem/{order_id}/{item_id}",
	}},
	{Name: OrderRemoveItem, Domain: Order, Routes: []string{
		"DELETE /orders/removeItem/{order_id}/{item_id}",
		"POST /orders/removeItem/{order_id}/{item_id}",
	}},
	{Name: OrderRemove, Domain: Order, Routes: []string{"DELETE /orders/remove/{order_id}"}},
	{Name: OrderCheckout, Domain: Order, Routes: []string{"POST /orders/checkout/{order_id}"}},
	{Name: OrderBatchInit, Domain: Order, Routes: []string{"POST /orders/batch_init/{n}/{n_items}/{n_users}/{item_price}"}},

	// The saga's CloudEvent handler takes every reply of the checkout.
	{Name: SagaStep, Domain: Saga, EventPath: "/events/saga-step", Consumes: []string{
		schemas.TypeStockReserved, schemas.TypeStockRejected, schemas.TypePaymentDebited, schemas.TypePaymentRejected,
		schemas.TypeStockReleased, schemas.TypePaymentRefunded,
	}},
	{Name: SagaSweep, Domain: Saga, EventPath: "/events/saga-sweep", Consumes: []string{schemas.TypePing}},

	// Every Trigger's deadLetterSink: stores what the broker gave up on.
	// The ping drives its retention (pruning), not a delivery of its own.
	{Name: DeadLetter, Domain: DeadLetters, EventPath: "/events/dead-letter", Consumes: []string{schemas.TypePing},
		DeadLetterSink: true},
}

// Announced are the event types the shop publishes on its Broker for
// consumers outside it (saga-step replies with a saga's outcome); no
// Trigger of the shop selects them, a consumer adds its own.
var Announced = []string{schemas.TypeCheckoutPaid, schemas.TypeCheckoutFailed}

// BrokerTypes lists, sorted, every event type the shop's Broker carries:
// those its Triggers select and those it announces. Each gets an EventType.
func BrokerTypes() []string {
	types := slices.Clone(Announced)
	for _, op := range All {
		types = append(types, op.Consumes...)
	}
	slices.Sort(types)
	return slices.Compact(types)
}

// ByName finds an operation.
func ByName(name string) (Operation, bool) {
	i := slices.IndexFunc(All, func(o Operation) bool { return o.Name == name })
	if i < 0 {
		return Operation{}, false
	}
	return All[i], true
}

// Select resolves a FUNCTION setting: a comma-separated list of operation
// names, domain names (every operation of that domain) or "all".
func Select(setting string) ([]Operation, error) {
	var out []Operation
	add := func(o Operation) {
		if !slices.ContainsFunc(out, func(x Operation) bool { return x.Name == o.Name }) {
			out = append(out, o)
		}
	}
	for _, word := range strings.Split(setting, ",") {
		word = strings.TrimSpace(word)
		switch {
		case word == "":
			continue
		case word == "all":
			for _, o := range All {
				add(o)
			}
		case slices.ContainsFunc(All, func(o Operation) bool { return string(o.Domain) == word }):
			for _, o := range All {
				if string(o.Domain) == word {
					add(o)
				}
			}
		default:
			o, ok := ByName(word)
			if !ok {
				return nil, fmt.Errorf("unknown operation or domain %q", word)
			}
			add(o)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("FUNCTION names no operation (%q)", setting)
	}
	return out, nil
}

// DomainPathPrefix is the first path element of a route pattern, which all
// routes of a domain share: "POST /stock/find/{item_id}" -> "/stock/".
func DomainPathPrefix(route string) string {
	_, path, _ := strings.Cut(route, " ")
	parts := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 2)
	return "/" + parts[0] + "/"
}
