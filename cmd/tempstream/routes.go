package main

import (
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tempstream/tempstream/pkg/sse"
	"github.com/tempstream/tempstream/templates"
)

// deps are what the handlers need.
type deps struct {
	log    *slog.Logger
	broker *sse.Broker
	events *sse.Handler
	reg    *prometheus.Registry
	ready  *atomic.Bool
}

// routes lists every route the service answers.
func routes(d deps) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.NotFound(handleNotFound())
	r.MethodNotAllowed(handleMethodNotAllowed())

	r.Get("/", http.RedirectHandler("/temperature", http.StatusFound).ServeHTTP)
	r.Get("/temperature", handlePage(templates.Page()).ServeHTTP)
	r.Handle("/static/*", handleStatic())
	r.Get("/events", d.events.ServeHTTP)

	r.Get("/healthz", handleHealthz().ServeHTTP)
	r.Get("/readyz", handleReadyz(d.ready).ServeHTTP)
	r.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg}))
	return r
}
