// Package httpjson is the one place where tempstream's HTTP handlers encode JSON
// answers and JSON errors.
//
// Every error answer has the same shape:
//
//	{"error":"unknown stream \"foo\"","status":404}
//
// with optional extra fields naming what was wrong (for example "field").
package httpjson

import (
	"encoding/json"
	"net/http"
)

// Encode writes v as a JSON answer with the given status. Encoding errors are
// reported to the caller; by then the status line has been sent.
func Encode(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// Error writes a JSON error answer: {"error": msg, "status": status} plus the
// given extra fields (which must not use the keys "error" or "status").
func Error(w http.ResponseWriter, status int, msg string, extra map[string]any) {
	body := make(map[string]any, len(extra)+2)
	for k, v := range extra {
		body[k] = v
	}
	body["error"] = msg
	body["status"] = status
	_ = Encode(w, status, body)
}
