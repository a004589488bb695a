package schemas

import (
	"errors"
	"fmt"
)

// CloudEvent types of the checkout saga. The names follow the reverse-DNS
// convention of the CloudEvents spec.
const (
	TypeCheckoutRequested  = "shop.checkout.requested"
	TypeStockReserved      = "shop.stock.reserved"
	TypeStockRejected      = "shop.stock.rejected"
	TypePaymentDebited     = "shop.payment.debited"
	TypePaymentRejected    = "shop.payment.rejected"
	TypeCheckoutCompensate = "shop.checkout.compensate"
	TypeStockReleased      = "shop.stock.released"
	TypePaymentRefunded    = "shop.payment.refunded"
	// TypeCheckoutPaid and TypeCheckoutFailed announce a decided saga to
	// subscribers outside the shop (shipping, mail, analytics); nothing in
	// the shop consumes them.
	TypeCheckoutPaid   = "shop.checkout.paid"
	TypeCheckoutFailed = "shop.checkout.failed"
	// TypePing is what a Knative PingSource emits; it drives the saga's recovery sweep.
	TypePing = "dev.knative.sources.ping"
)

// ErrInvalid marks event data that breaks its schema. Receivers treat such an
// event as permanently bad: retrying it cannot help.
var ErrInvalid = errors.New("invalid event data")

// Reason says why a step took nothing or why a saga compensates.
type Reason string

// The reasons. ReasonCompensated answers a step that arrives after its
// saga's compensation (the tombstone refuses it); ReasonDeadline is the
// recovery sweep giving up on a saga whose replies never came.
const (
	ReasonInsufficientStock  Reason = "insufficient_stock"
	ReasonUnknownItem        Reason = "unknown_item"
	ReasonInsufficientCredit Reason = "insufficient_credit"
	ReasonUnknownUser        Reason = "unknown_user"
	ReasonCompensated        Reason = "compensated"
	ReasonDeadline           Reason = "deadline"
)

// Item is a quantity of one item.
type Item struct {
	ItemID   string `json:"item_id"`
	Quantity int64  `json:"quantity"`
}

// CheckoutRequested is the data of shop.checkout.requested.
type CheckoutRequested struct {
	SagaID    string `json:"saga_id"`
	OrderID   string `json:"order_id"`
	UserID    string `json:"user_id"`
	Items     []Item `json:"items"`
	TotalCost int64  `json:"total_cost"`
}

// StockReserved is the data of shop.stock.reserved.
type StockReserved struct {
	SagaID  string `json:"saga_id"`
	OrderID string `json:"order_id"`
	Items   []Item `json:"items"`
}

// StockRejected is the data of shop.stock.rejected.
type StockRejected struct {
	SagaID  string `json:"saga_id"`
	OrderID string `json:"order_id"`
	Reason  Reason `json:"reason"`
	ItemID  string `json:"item_id,omitempty"`
}

// PaymentDebited is the data of shop.payment.debited.
type PaymentDebited struct {
	SagaID  string `json:"saga_id"`
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Amount  int64  `json:"amount"`
}

// PaymentRejected is the data of shop.payment.rejected.
type PaymentRejected struct {
	SagaID  string `json:"saga_id"`
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Reason  Reason `json:"reason"`
}

// CheckoutCompensate is the data of shop.checkout.compensate.
type CheckoutCompensate struct {
	SagaID  string `json:"saga_id"`
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Reason  Reason `json:"reason"`
}

// StockReleased is the data of shop.stock.released. Items are what was given
// back: empty when nothing had been reserved.
type StockReleased struct {
	SagaID  string `json:"saga_id"`
	OrderID string `json:"order_id"`
	Items   []Item `json:"items"`
}

// PaymentRefunded is the data of shop.payment.refunded. Amount is what was
// given back: 0 when nothing had been debited.
type PaymentRefunded struct {
	SagaID  string `json:"saga_id"`
	OrderID string `json:"order_id"`
	UserID  string `json:"user_id"`
	Amount  int64  `json:"amount"`
}

// PricedItem is an order line as the saga took it over: a quantity of one
// item at the unit price it was bought for.
type PricedItem struct {
	ItemID    string `json:"item_id"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// CheckoutPaid is the data of shop.checkout.paid: the order is paid, its
// stock taken and its total debited.
type CheckoutPaid struct {
	SagaID    string       `json:"saga_id"`
	OrderID   string       `json:"order_id"`
	UserID    string       `json:"user_id"`
	Items     []PricedItem `json:"items"`
	TotalCost int64        `json:"total_cost"`
}

// CheckoutFailed is the data of shop.checkout.failed: the checkout failed
// for Reason and the order is open again. EverythingReturned is always true:
// the event is sent only once stock and payment both confirmed they gave
// back (or never took) their part, and a subscriber may rely on it.
type CheckoutFailed struct {
	SagaID             string `json:"saga_id"`
	OrderID            string `json:"order_id"`
	UserID             string `json:"user_id"`
	Reason             Reason `json:"reason"`
	EverythingReturned bool   `json:"everything_returned"`
}

// Data is the data of one of the saga's event types.
type Data interface {
	// Saga is the saga the event belongs to.
	Saga() string
	// Validate checks what the schema requires, wrapping ErrInvalid.
	Validate() error
}

func (d CheckoutRequested) Saga() string  { return d.SagaID }
func (d StockReserved) Saga() string      { return d.SagaID }
func (d StockRejected) Saga() string      { return d.SagaID }
func (d PaymentDebited) Saga() string     { return d.SagaID }
func (d PaymentRejected) Saga() string    { return d.SagaID }
func (d CheckoutCompensate) Saga() string { return d.SagaID }
func (d StockReleased) Saga() string      { return d.SagaID }
func (d PaymentRefunded) Saga() string    { return d.SagaID }
func (d CheckoutPaid) Saga() string       { return d.SagaID }
func (d CheckoutFailed) Saga() string     { return d.SagaID }

// Validate checks the schema's rules.
func (d CheckoutRequested) Validate() error {
	if len(d.Items) == 0 {
		return fmt.Errorf("%w: no items", ErrInvalid)
	}
	return errors.Join(ids(d.SagaID, d.OrderID, d.UserID), items(d.Items), amount(d.TotalCost))
}

// Validate checks the schema's rules.
func (d StockReserved) Validate() error {
	return errors.Join(ids(d.SagaID, d.OrderID), items(d.Items))
}

// Validate checks the schema's rules.
func (d StockRejected) Validate() error {
	err := errors.Join(ids(d.SagaID, d.OrderID), reason(d.Reason, ReasonInsufficientStock, ReasonUnknownItem, ReasonCompensated))
	if d.ItemID != "" {
		err = errors.Join(err, ids(d.ItemID))
	}
	return err
}

// Validate checks the schema's rules.
func (d PaymentDebited) Validate() error {
	return errors.Join(ids(d.SagaID, d.OrderID, d.UserID), amount(d.Amount))
}

// Validate checks the schema's rules.
func (d PaymentRejected) Validate() error {
	return errors.Join(ids(d.SagaID, d.OrderID, d.UserID),
		reason(d.Reason, ReasonInsufficientCredit, ReasonUnknownUser, ReasonCompensated))
}

// Validate checks the schema's rules.
func (d CheckoutCompensate) Validate() error {
	return errors.Join(ids(d.SagaID, d.OrderID, d.UserID), reason(d.Reason, failureReasons...))
}

// failureReasons are why a saga may compensate, and so fail.
var failureReasons = []Reason{ReasonInsufficientStock, ReasonUnknownItem, ReasonInsufficientCredit,
	ReasonUnknownUser, ReasonCompensated, ReasonDeadline}

// Validate checks the schema's rules.
func (d CheckoutPaid) Validate() error {
	if len(d.Items) == 0 {
		return fmt.Errorf("%w: no items", ErrInvalid)
	}
	err := errors.Join(ids(d.SagaID, d.OrderID, d.UserID), amount(d.TotalCost))
	for _, it := range d.Items {
		err = errors.Join(err, items([]Item{{ItemID: it.ItemID, Quantity: it.Quantity}}), amount(it.UnitPrice))
	}
	return err
}

// Validate checks the schema's rules.
func (d CheckoutFailed) Validate() error {
	err := errors.Join(ids(d.SagaID, d.OrderID, d.UserID), reason(d.Reason, failureReasons...))
	if !d.EverythingReturned {
		err = errors.Join(err, fmt.Errorf("%w: a failed checkout has given everything back", ErrInvalid))
	}
	return err
}

// Validate checks the schema's rules.
func (d StockReleased) Validate() error {
	return errors.Join(ids(d.SagaID, d.OrderID), items(d.Items))
}

// Validate checks the schema's rules.
func (d PaymentRefunded) Validate() error {
	return errors.Join(ids(d.SagaID, d.OrderID, d.UserID), amount(d.Amount))
}

// ValidID reports whether s is a well-formed id: 1..128 bytes, no control
// characters.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func ids(ss ...string) error {
	for _, s := range ss {
		if !ValidID(s) {
			return fmt.Errorf("%w: bad id %q", ErrInvalid, s)
		}
	}
	return nil
}

func items(its []Item) error {
	if its == nil {
		// The schema wants an array; null is not one.
		return fmt.Errorf("%w: items missing", ErrInvalid)
	}
	for _, it := range its {
		if !ValidID(it.ItemID) {
			return fmt.Errorf("%w: bad item id %q", ErrInvalid, it.ItemID)
		}
		if it.Quantity < 1 {
			return fmt.Errorf("%w: item %q quantity %d", ErrInvalid, it.ItemID, it.Quantity)
		}
	}
	return nil
}

func amount(a int64) error {
	if a < 0 {
		return fmt.Errorf("%w: negative amount %d", ErrInvalid, a)
	}
	return nil
}

func reason(r Reason, allowed ...Reason) error {
	for _, a := range allowed {
		if r == a {
			return nil
		}
	}
	return fmt.Errorf("%w: reason %q", ErrInvalid, r)
}
