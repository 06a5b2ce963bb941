package main

import (
	"fmt"
	"html"
	"io"
	"math"
)

// writeSVG draws the run's per-second series: delivery latency p50, p90 and
// p99 (left axis, ms, log scale) and connected subscribers (right axis).
func writeSVG(w io.Writer, r *Results) {
	const (
		W, H                   = 900, 420
		left, right, top, bott = 70, 80, 40, 50
	)
	pw, ph := float64(W-left-right), float64(H-top-bott)
	tmax, lmax, nmax := 1.0, 1.0, 1.0
	lmin := math.Inf(1)
	for _, p := range r.Series {
		tmax = math.Max(tmax, p.T)
		nmax = math.Max(nmax, float64(p.Connected+p.Stalled))
		for _, v := range []float64{p.P50, p.P90, p.P99} {
			if v > 0 {
				lmax = math.Max(lmax, v)
				lmin = math.Min(lmin, v)
			}
		}
	}
	if math.IsInf(lmin, 1) {
		lmin = 0.1
	}
	lo := math.Pow(10, math.Floor(math.Log10(lmin)))
	hi := math.Pow(10, math.Ceil(math.Log10(lmax)))
	if hi <= lo {
		hi = lo * 10
	}
	x := func(t float64) float64 { return left + t/tmax*pw }
	y := func(v float64) float64 {
		v = math.Max(v, lo)
		return top + ph - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*ph
	}
	yn := func(n float64) float64 { return top + ph - n/nmax*ph }

	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	title := r.URL
	if r.Label != "" {
		title = r.Label
	}
	fmt.Fprintf(w, `<text x="%d" y="20" font-size="14">%s: %d subscribers, delivery latency per second</text>`+"\n", left, html.EscapeString(title), r.N)
	// grid and left axis (decades)
	for d := lo; d <= hi*1.0001; d *= 10 {
		fmt.Fprintf(w, `<line x1="%d" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, left+pw, y(d), y(d))
		fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end">%g ms</text>`+"\n", left-6, y(d)+4, d)
	}
	// right axis
	for i := 0; i <= 4; i++ {
		n := nmax * float64(i) / 4
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" fill="#888">%.0f</text>`+"\n", left+pw+6, yn(n)+4, n)
	}
	fmt.Fprintf(w, `<text x="%.1f" y="%d" fill="#888">subscribers</text>`+"\n", left+pw+6, top-8)
	// x axis
	step := math.Max(1, math.Ceil(tmax/10))
	for t := 0.0; t <= tmax; t += step {
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" text-anchor="middle">%.0f</text>`+"\n", x(t), top+ph+16, t)
	}
	fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">seconds</text>`+"\n", left+pw/2, H-12)
	fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`+"\n", left, top, pw, ph)

	line := func(color string, dash string, val func(Point) (float64, bool), scale func(float64) float64) {
		fmt.Fprintf(w, `<polyline fill="none" stroke="%s" stroke-width="1.5" %s points="`, color, dash)
		for _, p := range r.Series {
			if v, ok := val(p); ok {
				fmt.Fprintf(w, "%.1f,%.1f ", x(p.T), scale(v))
			}
		}
		fmt.Fprint(w, `"/>`+"\n")
	}
	line("#999", `stroke-dasharray="4 3"`, func(p Point) (float64, bool) { return float64(p.Connected + p.Stalled), true }, yn)
	line("#2a7", "", func(p Point) (float64, bool) { return p.P50, p.Samples > 0 }, y)
	line("#e90", "", func(p Point) (float64, bool) { return p.P90, p.Samples > 0 }, y)
	line("#d22", "", func(p Point) (float64, bool) { return p.P99, p.Samples > 0 }, y)
	// legend
	for i, l := range []struct{ c, s string }{{"#2a7", "p50"}, {"#e90", "p90"}, {"#d22", "p99"}, {"#999", "subscribers (right)"}} {
		lx := left + 10 + i*110
		fmt.Fprintf(w, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/><text x="%d" y="%d">%s</text>`+"\n", lx, lx+20, top+14, top+14, l.c, lx+24, top+18, l.s)
	}
	fmt.Fprintln(w, `</svg>`)
}
