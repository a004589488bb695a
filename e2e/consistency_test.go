package e2e

import (
	"testing"

	"github.com/wdm-knative/webshop/e2e/consistency"
)

// The course's consistency test: 1 item with stock 100 and price 1, 1000
// users with credit 1, one order of that item each, all checked out at once.
func TestCourseConsistency(t *testing.T) {
	w, out := consistency.Course(t, client, false)
	checkOutcomeEvents(t, w, out)
}

// Many items, multi-item orders, random quantities, some users short of
// credit, and every order checked out twice at once (one saga, one outcome).
func TestConsistencyManyItems(t *testing.T) {
	w, out := consistency.ManyItemsTwice(t, client, false)
	checkOutcomeEvents(t, w, out)
}
