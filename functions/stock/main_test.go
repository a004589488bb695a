package stock_test

import (
	"context"
	"testing"

	"github.com/wdm-knative/webshop/local/testenv"
	"github.com/wdm-knative/webshop/local/testenv/testserver"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stockServer is the stock operations over HTTP on a fresh, migrated database.
type stockServer struct{ *testserver.Domain }

func newStockServer(t *testing.T) stockServer {
	t.Helper()
	return stockServer{testserver.Stock(t)}
}

// call sends a request and decodes its JSON answer.
var call = testenv.CallJSON

// must is call that fails the test unless the answer is 200.
var must = testenv.MustJSON

// item reads an item's stock and price straight from the database.
func (s stockServer) item(t testing.TB, id string) (stock, price int64) {
	t.Helper()
	if err := s.DB.QueryRow(context.Background(), `SELECT stock, price FROM items WHERE id = $1`, id).Scan(&stock, &price); err != nil {
		t.Fatalf("item %q: %v", id, err)
	}
	return stock, price
}

// stockIs checks, after each step of a table test, that the item's stock is
// what the step wants.
func (s stockServer) stockIs(id string) func(t *testing.T, want int64) {
	return func(t *testing.T, want int64) {
		if got, _ := s.item(t, id); got != want {
			t.Fatalf("stock = %d, want %d", got, want)
		}
	}
}
