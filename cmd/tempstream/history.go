package main

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tempstream/tempstream/pkg/history"
	"github.com/tempstream/tempstream/pkg/httpjson"
	"github.com/tempstream/tempstream/pkg/reading"
	"github.com/tempstream/tempstream/pkg/sse"
)

// defaultHistoryRange is the range of a history query without from.
const defaultHistoryRange = 24 * time.Hour

// historyParams are the query parameters GET /api/v1/history knows.
var historyParams = []string{"sensor", "from", "to", "points"}

// historyAnswer is the JSON of GET /api/v1/history.
type historyAnswer struct {
	From    string          `json:"from"`
	To      string          `json:"to"`
	History string          `json:"history"` // "memory" or "jetstream"
	Series  []historySeries `json:"series"`
}

type historySeries struct {
	Sensor       string         `json:"sensor"`
	WidthSeconds int64          `json:"widthSeconds"` // 0: one point per reading
	Source       history.Source `json:"source"`       // raw, minute or hour
	Points       []historyPoint `json:"points"`
}

type historyPoint struct {
	T     string  `json:"t"`
	Min   float64 `json:"min"`
	Avg   float64 `json:"avg"`
	Max   float64 `json:"max"`
	Count int64   `json:"count"`
}

// handleHistory answers GET /api/v1/history?sensor=a,b&from=T&to=T&points=N:
// each sensor's readings in [from, to) (RFC 3339; to defaults to now, from
// to a day before to) in at most points buckets of equal width (default
// history.DefaultPoints, at most history.MaxPoints), as history.Query
// chooses them. Without sensor, every sensor the stream knows, at most
// maxSensors of them listed.
func handleHistory(hist history.Store, temps *sse.Stream, maxSensors int, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad := func(field, problem string) {
			httpjson.Error(w, http.StatusBadRequest, field+": "+problem, map[string]any{"field": field, "problem": problem})
		}
		q := r.URL.Query()
		names := make([]string, 0, len(q))
		for name := range q {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if !slices.Contains(historyParams, name) {
				bad(name, "unknown parameter (the parameters are "+strings.Join(historyParams, ", ")+")")
				return
			}
			if name != "sensor" && len(q[name]) > 1 {
				bad(name, "given more than once")
				return
			}
		}
		sensors, err := parseSensors(strings.Join(q["sensor"], ","), maxSensors)
		if err != nil {
			bad("sensor", strings.TrimPrefix(err.Error(), "sensor: "))
			return
		}
		to := now()
		if q.Has("to") {
			if to, err = parseTime(q.Get("to")); err != nil {
				bad("to", err.Error())
				return
			}
		}
		from := to.Add(-defaultHistoryRange)
		if q.Has("from") {
			if from, err = parseTime(q.Get("from")); err != nil {
				bad("from", err.Error())
				return
			}
		}
		points := history.DefaultPoints
		if q.Has("points") {
			v := q.Get("points")
			if points, err = strconv.Atoi(v); err != nil || points < 1 || points > history.MaxPoints {
				bad("points", fmt.Sprintf("%q is not a whole number from 1 to %d", v, history.MaxPoints))
				return
			}
		}
		if sensors == nil {
			for _, it := range temps.Latest() {
				sensors = append(sensors, it.Key)
			}
		}
		ans, err := history.Query(r.Context(), hist, history.Request{Sensors: sensors, From: from, To: to, Points: points})
		var re *history.RequestError
		switch {
		case errors.As(err, &re):
			bad(re.Field, re.Problem)
			return
		case errors.Is(err, history.ErrClosed):
			w.Header().Set("Retry-After", "1")
			httpjson.Error(w, http.StatusServiceUnavailable, "shutting down", nil)
			return
		case err != nil && r.Context().Err() != nil:
			return // the client is gone
		case errors.Is(err, history.ErrUnavailable):
			// A wait (a cluster settling), not a fault of the request.
			w.Header().Set("Retry-After", "1")
			httpjson.Error(w, http.StatusServiceUnavailable, "the history store is not answering, try again: "+err.Error(), nil)
			return
		case err != nil:
			httpjson.Error(w, http.StatusInternalServerError, err.Error(), nil)
			return
		}
		_ = httpjson.Encode(w, http.StatusOK, historyJSON(ans))
	})
}

// parseTime reads an RFC 3339 time. A space is read as "+": an offset
// like +01:00 sent unescaped in a query string arrives as " 01:00".
func parseTime(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.ReplaceAll(v, " ", "+"))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (like 2026-11-26T03:00:00Z)", v)
	}
	return t, nil
}

// historyJSON is ans as the API answers it, times like readings' "at".
func historyJSON(ans history.Answer) historyAnswer {
	out := historyAnswer{
		From:    ans.From.UTC().Format(reading.TimeFormat),
		To:      ans.To.UTC().Format(reading.TimeFormat),
		History: ans.History,
		Series:  make([]historySeries, len(ans.Series)),
	}
	for i, s := range ans.Series {
		ps := make([]historyPoint, len(s.Points))
		for j, p := range s.Points {
			ps[j] = historyPoint{T: p.T.UTC().Format(reading.TimeFormat), Min: p.Min, Avg: p.Avg, Max: p.Max, Count: p.Count}
		}
		out.Series[i] = historySeries{Sensor: s.Sensor, WidthSeconds: int64(s.Width / time.Second), Source: s.Source, Points: ps}
	}
	return out
}
