package main

import (
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/tempstream/tempstream/pkg/httpjson"
	"github.com/tempstream/tempstream/templates"
)

// contentSecurityPolicy allows the page only its own scripts, styles and
// stream: nothing inline, nothing from other hosts.
const contentSecurityPolicy = "default-src 'self'"

func handlePage(page []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})
}

func handleStatic() http.Handler {
	files := http.StripPrefix("/static/", http.FileServerFS(templates.Static()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			handleNotFound()(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = httpjson.Encode(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

func handleReadyz(ready *atomic.Bool, st store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			httpjson.Error(w, http.StatusServiceUnavailable, "not ready", nil)
			return
		}
		if err := st.Ready(); err != nil {
			httpjson.Error(w, http.StatusServiceUnavailable, "not ready: "+err.Error(), nil)
			return
		}
		_ = httpjson.Encode(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func handleNotFound() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		httpjson.Error(w, http.StatusNotFound, "no such path: "+r.URL.Path, nil)
	}
}

func handleMethodNotAllowed() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		httpjson.Error(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path, nil)
	}
}
