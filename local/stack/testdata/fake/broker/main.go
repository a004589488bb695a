// Command broker is a stand-in for cmd/broker in the stack's own tests: an
// ingress on BROKER_PORT that accepts every event, and its readiness probe.
package main

import (
	"net/http"
	"os"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/ready", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("POST /", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) })
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("BROKER_PORT"), mux); err != nil {
		os.Exit(1)
	}
}
