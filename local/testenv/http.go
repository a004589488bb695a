package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// CallJSON sends a request without a body and decodes the answer, which must
// be a JSON object: every answer of the shop's API is, errors included.
func CallJSON(t testing.TB, method, url string) (int, map[string]any) {
	t.Helper()
	code, _, body := Call(t, method, url)
	return code, body
}

// Call is CallJSON that also returns the answer's headers.
func Call(t testing.TB, method, url string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("%s %s: %d, body is not a JSON object: %q", method, url, resp.StatusCode, raw)
	}
	return resp.StatusCode, resp.Header, body
}

// MustJSON is CallJSON that fails the test unless the answer is 200.
func MustJSON(t testing.TB, method, url string) map[string]any {
	t.Helper()
	code, body := CallJSON(t, method, url)
	if code != 200 {
		t.Fatalf("%s %s = %d %v", method, url, code, body)
	}
	return body
}
