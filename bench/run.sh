#!/usr/bin/env bash
# Runs load scenarios against tempstream, the raw-socket floor (bench/floor)
# and the r3labs/sse/v2 baseline (bench/r3labs), one server at a time, each
# measured by cmd/ssebench on the same machine. Loopback only.
#
#   bench/run.sh quick        # make bench: 500 subscribers, 100 readings/s, 10 s each (~1 min)
#   bench/run.sh a            # 2,000 subscribers, 100 readings/s, 30 s
#   bench/run.sh b            # 19,000 subscribers, 1 reading/s, 60 s (DURATION=300s: the 5-minute target)
#   bench/run.sh c            # 2,000 subscribers, 100 readings/s, 10% stalled vs none, 30 s
#   bench/run.sh d            # reconnect storm: 2,000 subscribers (STORM_N), tempstream restarted
#   bench/run.sh e            # many sensors: server CPU per delivered event, 10,000 subscribers following
#                             # one of 1,000 sensors each vs all following one sensor (tempstream only)
#
# Results (JSON, SVG, logs, compare.md) go to $OUT (default bench/results/<scenario>-<time>).
# SERVERS="floor tempstream r3labs" picks servers; TEMPSTREAM_SRC=dir builds
# tempstream from another tree (default: this one); TS_FLAGS are tempstream's
# extra flags (default "--store memory": the engine without JetStream; use
# TS_FLAGS="--store nats" for the default store, with a fresh --data-dir).
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:-quick}
OUT=${OUT:-bench/results/$scenario-$(date -u +%Y%m%dT%H%M%SZ)}
SERVERS=${SERVERS:-floor tempstream r3labs}
if [ "$scenario" = e ]; then # readings come from the ingest API, not the simulator
	E_SENSORS=${E_SENSORS:-1000}
	TS_FLAGS="${TS_FLAGS:---store memory} --sim=false --publish-token bench --publish-rate 1000000 --max-sensors $((E_SENSORS * 2 > 2000 ? E_SENSORS * 2 : 2000))"
fi
mkdir -p "$OUT"
BIN=$(mktemp -d)
PID=
trap '[ -z "$PID" ] || kill "$PID" 2>/dev/null; rm -rf "$BIN"' EXIT # never leave a server behind
go build -o "$BIN/ssebench" ./cmd/ssebench
go build -o "$BIN/floor" ./bench/floor
go build -o "$BIN/r3labs" ./bench/r3labs
(cd "${TEMPSTREAM_SRC:-.}" && go build -o "$BIN/tempstream" ./cmd/tempstream)

ulimit -n "$(ulimit -Hn)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3), open files $(ulimit -n); $(date -u +%FT%TZ); tempstream flags: ${TS_FLAGS:---store memory}; commit $(git rev-parse --short HEAD 2>/dev/null || echo none)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')" | tee "$OUT/machine.txt"

# start NAME INTERVAL: starts a server, sets PID and URL
start() {
	local name=$1 interval=$2
	case $name in
	floor) "$BIN/floor" -addr 127.0.0.1:5100 -interval "$interval" 2>"$OUT/$name.log" &
		URL=http://127.0.0.1:5100/events ;;
	r3labs) "$BIN/r3labs" -addr 127.0.0.1:5200 -interval "$interval" 2>"$OUT/$name.log" &
		URL='http://127.0.0.1:5200/events?stream=temperature' ;;
	tempstream) [ "${3:-}" = keep ] || rm -rf "$BIN/data" # keep: a restart on the same store
		# shellcheck disable=SC2086
		"$BIN/tempstream" --addr 127.0.0.1:5000 --interval "$interval" --log-level warn --data-dir "$BIN/data" ${TS_FLAGS:---store memory} 2>"$OUT/$name.log" &
		URL=http://127.0.0.1:5000/events ;;
	esac
	PID=$!
	local hostport=${URL#http://}; hostport=${hostport%%/*}
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}") 2>/dev/null && break
		sleep 0.1
	done
	sleep 1 # let the process settle before its baseline RSS is taken
}

stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=; sleep 1; }

# measure NAME TAG INTERVAL ssebench-args…
measure() {
	local name=$1 tag=$2 interval=$3; shift 3
	start "$name" "$interval"
	echo "== $tag: $name, reading every $interval: ssebench -url $URL $*" | tee -a "$OUT/commands.txt"
	if [ "$name" = tempstream ] && [ -n "${METRICS_AT:-}" ]; then
		# the Go runtime's view (heap, stacks, goroutines) while every subscriber is connected
		(sleep "$METRICS_AT"; curl -s http://127.0.0.1:5000/metrics >"$OUT/$tag-$name.metrics") &
	fi
	"$BIN/ssebench" -url "$URL" -label "$name" -server-pid "$PID" -json "$OUT/$tag-$name.json" -plot "$OUT/$tag-$name.svg" "$@" \
		2>"$OUT/$tag-$name.progress" | tee "$OUT/$tag-$name.txt"
	stop
}

compare() { # compare TAG: table of the servers of TAG, floor first
	local tag=$1 files=()
	for s in $SERVERS; do [ -f "$OUT/$tag-$s.json" ] && files+=("$OUT/$tag-$s.json"); done
	echo "### $tag" | tee -a "$OUT/compare.md"
	"$BIN/ssebench" compare "${files[@]}" | tee -a "$OUT/compare.md"
}

case $scenario in
quick)
	for s in $SERVERS; do measure "$s" quick 10ms -n 500 -ramp 500/s -duration 10s -quiet; done
	compare quick ;;
a)
	export METRICS_AT=${METRICS_AT:-20}
	for s in $SERVERS; do measure "$s" a 10ms -n 2000 -ramp 500/s -duration 30s; done
	compare a ;;
b)
	export METRICS_AT=${METRICS_AT:-50}
	for s in $SERVERS; do measure "$s" b 1s -n 19000 -ramp 1000/s -duration "${DURATION:-60s}" -sources 4; done
	compare b ;;
c)
	for s in $SERVERS; do
		measure "$s" c0 10ms -n 2000 -ramp 500/s -duration 30s
		measure "$s" c10 10ms -n 2000 -ramp 500/s -duration 30s -stall-fraction 0.1
	done
	compare c0; compare c10 ;;
d)
	# Reconnect storm: tempstream is killed 15 s into the steady phase and
	# started again on the same port; subscribers reconnect (retry: 2s)
	# with Last-Event-ID. With a memory-only ring they get a reset, then live;
	# with TS_FLAGS="--store nats" the restart keeps the JetStream store and
	# they resume where they were.
	start tempstream 1s
	echo "== d: tempstream storm" | tee -a "$OUT/commands.txt"
	"$BIN/ssebench" -url "$URL" -label tempstream-storm -n "${STORM_N:-2000}" -ramp 1000/s -duration 30s -sources 4 \
		-json "$OUT/d-tempstream.json" -plot "$OUT/d-tempstream.svg" 2>"$OUT/d-tempstream.progress" >"$OUT/d-tempstream.txt" &
	LOAD=$!
	sleep $((${STORM_N:-2000} / 1000 + 15))
	kill "$PID"; wait "$PID" 2>/dev/null || true
	start tempstream 1s keep # with TS_FLAGS="--store nats", the same JetStream store
	wait "$LOAD"; stop
	cat "$OUT/d-tempstream.txt" ;;
e)
	# Many sensors, one engine: the server's CPU per delivered event in two
	# shapes of the same ~E_CLIENTS deliveries a second, each on a fresh
	# tempstream: "filtered", E_SENSORS sensors posting one reading a second
	# each through POST /api/v1/readings (spread over the second) and every
	# subscriber following one of them (?sensor=s-<i mod E_SENSORS>); and
	# "control", one sensor posting once a second and every subscriber
	# unfiltered. ssebench posts the readings itself, holds HOLD with nobody
	# connected (the ingest alone), ramps, settles, holds HOLD with every
	# subscriber: CPU per event = (CPU subscribed − CPU alone) / events.
	E_CLIENTS=${E_CLIENTS:-10000}
	hold=${HOLD:-20s}; case $hold in *[0-9]) hold=${hold}s ;; esac
	measure_e() { # measure_e TAG POSTED_SENSORS FOLLOWED_SENSORS
		local tag=$1 posted=$2 follow=$3
		start tempstream 1s
		echo "== e-$tag: tempstream ${TS_FLAGS}: ssebench -url $URL -n $E_CLIENTS -sensors $follow -post-sensors $posted, hold $hold" | tee -a "$OUT/commands.txt"
		"$BIN/ssebench" -url "$URL" -label "$tag" -n "$E_CLIENTS" -ramp "${E_RAMP:-1000/s}" -sources 4 -server-pid "$PID" \
			-idle-hold "$hold" -settle "${E_SETTLE:-2s}" -duration "$hold" -sensors "$follow" \
			-post-url http://127.0.0.1:5000/api/v1/readings -post-token bench -post-sensors "$posted" -post-rate 1/s \
			-json "$OUT/e-$tag.json" -plot "$OUT/e-$tag.svg" 2>"$OUT/e-$tag.progress" | tee "$OUT/e-$tag.txt"
		stop
	}
	measure_e filtered "$E_SENSORS" "$E_SENSORS"
	measure_e control 1 0
	echo "### e: $E_CLIENTS subscribers; filtered: $E_SENSORS sensors × 1/s, each subscriber follows one; control: 1 sensor × 1/s, unfiltered; holds of $hold" | tee -a "$OUT/compare.md"
	"$BIN/ssebench" compare "$OUT/e-control.json" "$OUT/e-filtered.json" | tee -a "$OUT/compare.md" ;;
*) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac
echo "results in $OUT"
