// Command checkout-logger is an example consumer of the shop's outcome
// events, deployed beside the shop without touching it: its own Knative
// Service and a Trigger on the shop's Broker (kustomization.yaml here). It
// logs every paid order; a shipping service or a mailer would start the same
// way. Outcome events may come more than once, always with the same id and
// data, so a consumer with side effects de-duplicates on the event id.
//
//	ko apply -k knative/examples/checkout-logger   # or build the image and kubectl apply -k
package main

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/wdm-knative/webshop/internal/eventhttp"
	"github.com/wdm-knative/webshop/schemas"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	port := os.Getenv("PORT") // Knative sets it
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{Addr: ":" + port, Handler: paidLogger(log), ReadHeaderTimeout: 10 * time.Second}
	log.Info("checkout-logger listening", "addr", srv.Addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
}

// paidLogger logs each shop.checkout.paid it is sent. An event it cannot
// read is answered 400, which the broker does not retry: a retry would
// bring the same event.
func paidLogger(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e, err := eventhttp.ReadBinary(r.Header, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		paid, err := schemas.DecodeAs[schemas.CheckoutPaid](e)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		log.Info("order paid", "event_id", e.ID(), "order", paid.OrderID, "user", paid.UserID,
			"total_cost", paid.TotalCost, "lines", len(paid.Items))
		w.WriteHeader(http.StatusNoContent)
	})
}
