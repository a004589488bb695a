// Package api holds the HTTP plumbing every function shares: JSON answers,
// the mapping of errors to statuses, strict parsing of path values, and the
// router that serves operations' routes with JSON 404/405 answers.
package api

import (
	"encoding/json"
	"net/http"
)

// WriteJSON answers v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error (an unmarshalable type) gets here.
		status, body = http.StatusInternalServerError, []byte(`{"error":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// OK answers 200 with v as JSON.
func OK(w http.ResponseWriter, v any) { WriteJSON(w, http.StatusOK, v) }
