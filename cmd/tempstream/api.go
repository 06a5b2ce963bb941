package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/go-chi/httprate"

	"github.com/tempstream/tempstream/pkg/httpjson"
	"github.com/tempstream/tempstream/pkg/natsjs"
	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sse"
)

// Limits of the JSON API.
const (
	maxIngestBody   = 1 << 20 // bytes
	maxSensorFilter = 100     // sensors in one ?sensor= list
	defaultLimit    = 1000    // readings per GET /api/v1/readings
	maxLimit        = 10000
)

// sensorsParam reads the ?sensor=a,b filter: distinct, valid sensor IDs.
func sensorsParam(r *http.Request) ([]string, error) {
	return parseSensors(strings.Join(r.URL.Query()["sensor"], ","), maxSensorFilter) // ?sensor=a&sensor=b too
}

// parseSensors reads a comma-separated list of at most max distinct, valid
// sensor IDs (repeats count once); nil when raw is empty.
func parseSensors(raw string, max int) ([]string, error) {
	if raw == "" {
		return nil, nil
	}
	var ids []string
	seen := map[string]bool{}
	for _, id := range strings.Split(raw, ",") {
		id = strings.TrimSpace(id)
		if !reading.ValidSensor(id) {
			return nil, fmt.Errorf("sensor: %q does not match %s", id, reading.SensorPattern)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) > max {
		return nil, fmt.Errorf("sensor: %d sensors listed, at most %d", len(ids), max)
	}
	return ids, nil
}

// items turns retained events into readings with their IDs.
func items(evs []sse.Item) []reading.Item {
	out := make([]reading.Item, 0, len(evs))
	for _, ev := range evs {
		if ev.Type != reading.EventType {
			continue
		}
		if it, err := reading.ParseItem(ev.ID, ev.Data); err == nil {
			out = append(out, it)
		}
	}
	return out
}

// handleSensors answers GET /api/v1/sensors: every known sensor with its
// latest reading, sorted by sensor ID.
func handleSensors(st *sse.Stream) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = httpjson.Encode(w, http.StatusOK, map[string]any{"sensors": items(st.Latest())})
	})
}

// handleReadings answers GET /api/v1/readings?sensor=a,b&since=<id>&limit=N:
// retained readings after since (all retained without it), oldest first.
// A since that cannot be honoured is answered like a stream's reset: the
// retained readings, with "reset" saying why.
func handleReadings(st *sse.Stream) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sensors, err := sensorsParam(r)
		if err != nil {
			httpjson.Error(w, http.StatusBadRequest, err.Error(), map[string]any{"field": "sensor"})
			return
		}
		limit := defaultLimit
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxLimit {
				httpjson.Error(w, http.StatusBadRequest, fmt.Sprintf("limit: %q is not a number from 1 to %d", v, maxLimit), map[string]any{"field": "limit"})
				return
			}
			limit = n
		}
		evs, reset := st.Since(r.URL.Query().Get("since"), sensors, limit)
		body := map[string]any{"readings": items(evs)}
		if len(evs) > 0 {
			body["lastId"] = evs[len(evs)-1].ID
		}
		if reset != nil {
			body["reset"] = reset
		}
		_ = httpjson.Encode(w, http.StatusOK, body)
	})
}

// handleIngest answers POST /api/v1/readings: one reading or a batch,
// authorised by the publish token, validated whole, published all or
// nothing, and acknowledged (202, with the event IDs) only once every
// reading is in the stream's retention.
func handleIngest(st *sse.Stream, store store, token string, now func() time.Time) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			httpjson.Error(w, http.StatusForbidden, "ingest is disabled: start tempstream with --publish-token (or TEMPSTREAM_PUBLISH_TOKEN) and send it as Authorization: Bearer <token>", nil)
			return
		}
		scheme, given, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(given))) // equal lengths: the compare leaks nothing
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tempstream"`)
			httpjson.Error(w, http.StatusUnauthorized, "missing or wrong bearer token", map[string]any{"field": "Authorization"})
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			httpjson.Error(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json", map[string]any{"field": "Content-Type"})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxIngestBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				httpjson.Error(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", maxIngestBody), nil)
				return
			}
			httpjson.Error(w, http.StatusBadRequest, "reading the body: "+err.Error(), nil)
			return
		}
		rs, err := reading.Decode(body, now())
		if err != nil {
			var fe *reading.FieldError
			errors.As(err, &fe)
			httpjson.Error(w, http.StatusBadRequest, err.Error(), map[string]any{"field": fe.Field, "problem": fe.Problem})
			return
		}
		msgs, err := messages(rs)
		var ids []string
		if err == nil {
			ids, err = store.Publish(r.Context(), msgs)
		}
		switch {
		case errors.Is(err, sse.ErrTooManyKeys):
			problem := "too many distinct sensors (see --max-sensors); nothing was accepted"
			httpjson.Error(w, http.StatusBadRequest, "sensor: "+problem, map[string]any{"field": "sensor", "problem": problem})
			return
		case errors.Is(err, sse.ErrBatchTooLarge):
			problem := fmt.Sprintf("batch of %d readings: this server takes at most %d at once (half its --retention); nothing was accepted", len(rs), st.MaxBatch())
			httpjson.Error(w, http.StatusBadRequest, problem, map[string]any{"field": "", "problem": problem})
			return
		case errors.Is(err, sse.ErrClosed):
			w.Header().Set("Retry-After", "1")
			httpjson.Error(w, http.StatusServiceUnavailable, "shutting down; nothing was accepted", nil)
			return
		case errors.Is(err, natsjs.ErrNotStored):
			w.Header().Set("Retry-After", "1")
			httpjson.Error(w, http.StatusServiceUnavailable, "the readings could not be stored (NATS unreachable?); nothing was acknowledged: send the batch again", nil)
			return
		case err != nil:
			httpjson.Error(w, http.StatusInternalServerError, "publishing: "+err.Error(), nil)
			return
		}
		_ = httpjson.Encode(w, http.StatusAccepted, map[string]any{"accepted": len(ids), "ids": ids})
	})
}

// limitIngest limits ingest requests per client address and, after that,
// per token (a hash of the Authorization header), each to rate a second.
// The address is the TCP peer's: behind a reverse proxy every client shares
// the proxy's bucket, and the token limit is the one that tells them apart.
func limitIngest(rate int) []func(http.Handler) http.Handler {
	tooMany := httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
		httpjson.Error(w, http.StatusTooManyRequests, fmt.Sprintf("rate limit: at most %d ingest requests a second per address and per token", rate), nil)
	})
	byAddress := func(r *http.Request) (string, error) {
		return httprate.CanonicalizeIP(middleware.GetClientIP(r.Context())), nil
	}
	byToken := func(r *http.Request) (string, error) {
		sum := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		return string(sum[:]), nil
	}
	return []func(http.Handler) http.Handler{
		middleware.ClientIPFromRemoteAddr,
		httprate.LimitBy(rate, time.Second, byAddress, tooMany),
		httprate.LimitBy(rate, time.Second, byToken, tooMany),
	}
}
