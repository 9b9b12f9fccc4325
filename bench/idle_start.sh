#!/usr/bin/env bash
# Owns the idle-start bench: how fast cached 1 KiB hits run in the first second after a pause, for
# the gateway with its shipped V8 flags and with Deno's defaults, against the Deno Map-cache anchor.
#
# Usage: bench/idle_start.sh   (from anywhere; env: TRIALS=3 IDLE=40 WARMUP=3 CONNECTIONS=50 KEEP_TMP=1)
#   Each trial starts fresh servers side by side, loads each for WARMUP s, leaves them all idle for
#   IDLE s, then runs three 1 s wrk slices against each in turn (the order rotates every trial).
#   Reported: each server's first slice after the pause (req/s, p99) and its ratio to the anchor's
#   first slice, the medians over the trials, and the gateways' RSS after the pause.
# Everything listens on 127.0.0.1 on free ports and is stopped on exit.
set -euo pipefail

TRIALS="${TRIALS:-3}"
IDLE="${IDLE:-40}"
WARMUP="${WARMUP:-3}"
CONNECTIONS="${CONNECTIONS:-50}"
KEEP_TMP="${KEEP_TMP:-0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OBJECT_PATH="/bench/object-1k.bin"

LOG_TAG=idle-bench
START_STDOUT=/dev/null
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

need_load_tools
[ "$missing" = 0 ] || exit 2
if [ -z "$GATEWAY_V8_FLAGS" ]; then
  echo "GATEWAY_V8_FLAGS is empty: this bench compares the shipped flags with Deno's defaults" >&2
  exit 2
fi

workspace yatagarasu-idle
free_ports 4
P_ORIGIN="${PORTS[0]}" P_SHIPPED="${PORTS[1]}" P_DEFAULT="${PORTS[2]}" P_ANCHOR="${PORTS[3]}"

# The origin answers any path with 1 KiB and S3's GET headers; after one request every server here
# answers from memory, so the origin is idle while they are measured.
start origin env PORT="$P_ORIGIN" SIZE=1024 S3_HEADERS=1 \
  "${DENO_RUN[@]}" --allow-net --allow-env "$ROOT/bench/anchors/deno_fixed.ts"
wait_http "http://127.0.0.1:$P_ORIGIN/" 30 "$LAST_PID" || { log "origin did not start"; exit 1; }

for port in "$P_SHIPPED" "$P_DEFAULT"; do
  cat >"$TMP/gateway-$port.yaml" <<EOF
server: { address: "127.0.0.1", port: $port }
buckets:
  - name: bench
    path_prefix: /bench
    s3: { bucket: bench, region: us-east-1, endpoint: "http://127.0.0.1:$P_ORIGIN", access_key: BENCH, secret_key: BENCH }
cache: { memory: { max_item_size_mb: 1, max_cache_size_mb: 64 } }
logging: { level: info, format: json }
EOF
done

NAMES=("gateway, shipped flags" "gateway, Deno defaults" "deno map-cache anchor")
URLS=("http://127.0.0.1:$P_SHIPPED$OBJECT_PATH" "http://127.0.0.1:$P_DEFAULT$OBJECT_PATH"
  "http://127.0.0.1:$P_ANCHOR$OBJECT_PATH")

# slice <url>: "req/s p99-ms" of one 1 s wrk run
slice() {
  wrk -t1 -c"$CONNECTIONS" -d1s --latency "$1" 2>/dev/null | awk '
    /^Requests\/sec:/ { r = $2 }
    $1 == "99%" { v = $2; u = v; gsub(/[0-9.]/, "", u); sub(/[a-z]+$/, "", v)
      p = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }
    END { printf "%.0f %.2f\n", r + 0, p + 0 }'
}
rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

RESULTS="$TMP/first_slices.tsv" # trial \t server index \t req/s \t p99 \t rss
: >"$RESULTS"
for trial in $(seq "$TRIALS"); do
  log "trial $trial of $TRIALS: fresh servers"
  start gateway_shipped "${DENO_RUN[@]}" -A "$ROOT/main.ts" serve --config "$TMP/gateway-$P_SHIPPED.yaml"
  pids=("$LAST_PID")
  start gateway_default deno run -A "$ROOT/main.ts" serve --config "$TMP/gateway-$P_DEFAULT.yaml"
  pids+=("$LAST_PID")
  start anchor env PORT="$P_ANCHOR" ORIGIN="http://127.0.0.1:$P_ORIGIN" \
    "${DENO_RUN[@]}" --allow-net --allow-env "$ROOT/bench/anchors/deno_map_cache.ts"
  pids+=("$LAST_PID")
  for i in 0 1 2; do
    health="${URLS[$i]}"
    [ "$i" = 2 ] || health="${URLS[$i]%"$OBJECT_PATH"}/health"
    wait_http "$health" 60 "${pids[$i]}" || { log "${NAMES[$i]} did not start"; exit 1; }
    curl -s -o /dev/null "${URLS[$i]}"
    wrk -t1 -c"$CONNECTIONS" -d"${WARMUP}s" "${URLS[$i]}" >/dev/null 2>&1 || true
  done
  log "idle for ${IDLE}s"
  sleep "$IDLE"
  for k in 0 1 2; do
    i=$(((k + trial - 1) % 3))
    rss="$(rss_mb "${pids[$i]}")"
    read -r rps p99 <<<"$(slice "${URLS[$i]}")"
    rest="$(slice "${URLS[$i]}") / $(slice "${URLS[$i]}")"
    log "  ${NAMES[$i]}: first second $rps req/s (p99 $p99 ms), then $rest; RSS before ${rss} MB"
    printf '%s\t%s\t%s\t%s\t%s\n' "$trial" "$i" "$rps" "$p99" "$rss" >>"$RESULTS"
  done
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
done

echo
echo "Idle start: ${TRIALS} trial(s), ${WARMUP}s of hits, ${IDLE}s idle, then the first 1 s of hits (wrk -t1 -c$CONNECTIONS)"
echo "gateway V8 flags: $GATEWAY_V8_FLAGS (the anchor runs with them too)"
awk -F'\t' -v names="${NAMES[0]}|${NAMES[1]}|${NAMES[2]}" '
  function median(list, n,   i, j, t, a) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { rps[$1, $2] = $3; p99[$1, $2] = $4; rss[$1, $2] = $5; if ($1 > trials) trials = $1 }
  END {
    split(names, name, "|")
    for (s = 0; s <= 1; s++) {
      ratios = ""; tails = ""; line = ""
      for (t = 1; t <= trials; t++) {
        r = rps[t, s] / (rps[t, 2] > 0 ? rps[t, 2] : 1)
        ratios = ratios " " r; tails = tails " " p99[t, s] / (p99[t, 2] > 0 ? p99[t, 2] : 1)
        line = line sprintf(" %.0f/%.2fms(%sMB)", rps[t, s], p99[t, s], rss[t, s])
      }
      printf "%-24s first second ÷ anchor first second: median %.3fx req/s, %.2fx p99\n", name[s + 1], median(ratios), median(tails)
      printf "    per trial (req/s/p99, RSS after the pause):%s\n", line
    }
    line = ""
    for (t = 1; t <= trials; t++) line = line sprintf(" %.0f/%.2fms", rps[t, 2], p99[t, 2])
    printf "%-24s per trial:%s\n", name[3], line
  }' "$RESULTS"
