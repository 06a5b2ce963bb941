package main

import (
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tempstream/tempstream/pkg/history"
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

	temps        *sse.Stream      // the temperature stream, for the JSON API
	store        store            // where ingested readings are stored
	publishToken string           // empty: ingest disabled
	publishRate  int              // ingest requests per second per address and per token
	now          func() time.Time // the clock ingest checks "at" against; to of a history query defaults to it
	history      history.Store    // what GET /api/v1/history answers from
	maxSensors   int              // --max-sensors: the most sensors in a history query
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

	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/sensors", handleSensors(d.temps).ServeHTTP)
		r.Get("/readings", handleReadings(d.temps).ServeHTTP)
		r.Get("/history", handleHistory(d.history, d.temps, d.maxSensors, d.now).ServeHTTP)
		r.With(limitIngest(d.publishRate)...).Post("/readings", handleIngest(d.temps, d.store, d.publishToken, d.now).ServeHTTP)
	})

	r.Get("/healthz", handleHealthz().ServeHTTP)
	r.Get("/readyz", handleReadyz(d.ready, d.store).ServeHTTP)
	r.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{Registry: d.reg}))
	return r
}
