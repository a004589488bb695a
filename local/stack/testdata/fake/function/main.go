// Command function is a stand-in for cmd/function in the stack's own tests:
// it serves the readiness probe on PORT and answers every other request with
// the FUNCTION it was started with, so tests see which process served a path.
package main

import (
	"net/http"
	"os"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health/readiness", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Function", os.Getenv("FUNCTION"))
		w.Write([]byte(r.Method + " " + r.URL.Path))
	})
	if err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), mux); err != nil {
		os.Exit(1)
	}
}
