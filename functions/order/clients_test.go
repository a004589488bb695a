package order

import "testing"

// A base URL may end in slashes (PAYMENT_URL=http://payment/): the paths
// joined to it must not start with two.
func TestFunctionBase(t *testing.T) {
	for _, base := range []string{"http://payment", "http://payment/", "http://payment//"} {
		if f := newFunction(base, nil, nil); f.base != "http://payment" {
			t.Errorf("base %q became %q", base, f.base)
		}
	}
}
