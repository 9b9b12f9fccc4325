#!/usr/bin/env bash
# Owns the pinned CPU-per-request comparison of 1 KiB requests: the gateway against its minimal Deno
# anchor, each alone on CPU 1, measured in alternating slices (a steadier figure than req/s on a
# noisy host, where the load rows of bench/load.sh swing from round to round).
#   MODE=miss (default): no cache, every request a miss; anchor: the Deno fetch passthrough.
#   MODE=hit: memory cache and metrics on, every request a HIT; anchor: the Deno Map-cache proxy,
#            and (context) the same proxy writing one JSON access line per request (ACCESS_LOG=1).
#
# Usage: bench/cpu_per_request.sh   (from anywhere; env: MODE=miss|hit ROUNDS=8 SLICE=2
#                                    CONNECTIONS=50 KEEP_TMP=1)
# Needs 2 CPUs and taskset. wrk and the origin run on CPU 0; the measured process on CPU 1.
# CPU time is read from /proc/<pid>/stat (user + system, all threads) around each wrk slice.
set -euo pipefail

MODE="${MODE:-miss}"
ROUNDS="${ROUNDS:-8}"
SLICE="${SLICE:-2}"
CONNECTIONS="${CONNECTIONS:-50}"
KEEP_TMP="${KEEP_TMP:-0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OBJECT_PATH="/bench-bucket/small-1k.bin"

LOG_TAG=cpu
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

need_load_tools
need taskset "apt-get install -y util-linux"
[ "$missing" = 0 ] || exit 2
case "$MODE" in
  miss) ANCHOR_NAME="deno passthrough" ANCHOR_FILE=deno_passthrough.ts ;;
  hit) ANCHOR_NAME="deno map-cache" ANCHOR_FILE=deno_map_cache.ts ;;
  *) echo "MODE must be miss or hit (got '$MODE')" >&2; exit 2 ;;
esac
if [ "$(nproc)" -lt 2 ]; then
  log "needs 2 CPUs (wrk and the origin on one, the measured process on the other)"
  exit 2
fi

workspace yatagarasu-cpu
free_ports 5
P_ORIGIN="${PORTS[0]}" P_PASS="${PORTS[1]}" P_GATEWAY="${PORTS[2]}" P_METRICS="${PORTS[3]}"
P_LOGGED="${PORTS[4]}"

# The origin answers every path with 1 KiB (Content-Length) and S3's headers, like S3 answering a
# small GET: the proxies pass, store and replay what they would with S3.
start origin env PORT="$P_ORIGIN" SIZE=1024 S3_HEADERS=1 \
  taskset -c 0 "${DENO_RUN[@]}" --allow-net --allow-env "$ROOT/bench/anchors/deno_fixed.ts"
PID_ORIGIN=$LAST_PID
start deno_pass env PORT="$P_PASS" ORIGIN="http://127.0.0.1:$P_ORIGIN" \
  taskset -c 1 "${DENO_RUN[@]}" --allow-net --allow-env "$ROOT/bench/anchors/$ANCHOR_FILE"
PID_PASS=$LAST_PID
SERVICES=("deno_pass $P_PASS $PID_PASS")
if [ "$MODE" = hit ]; then
  START_STDOUT=/dev/null start deno_logged env PORT="$P_LOGGED" ORIGIN="http://127.0.0.1:$P_ORIGIN" \
    ACCESS_LOG=1 taskset -c 1 "${DENO_RUN[@]}" --allow-net --allow-env "$ROOT/bench/anchors/$ANCHOR_FILE"
  PID_LOGGED=$LAST_PID
  SERVICES+=("deno_logged $P_LOGGED $PID_LOGGED")
fi
cat >"$TMP/gateway.yaml" <<EOF
server: { address: "127.0.0.1", port: $P_GATEWAY }
buckets:
  - name: bench
    path_prefix: /bench-bucket
    s3: { bucket: bench-bucket, region: us-east-1, endpoint: "http://127.0.0.1:$P_ORIGIN", access_key: BENCH, secret_key: BENCH }
logging: { level: info, format: json }
EOF
if [ "$MODE" = hit ]; then
  # As load.sh's "gateway cache hit" row: memory tier, metrics on, access log on.
  cat >>"$TMP/gateway.yaml" <<EOF
cache: { memory: { max_item_size_mb: 1, max_cache_size_mb: 64 } }
metrics: { enabled: true, address: "127.0.0.1", port: $P_METRICS }
EOF
fi
# The access log stays on, as shipped, written to /dev/null.
START_STDOUT=/dev/null start gateway \
  taskset -c 1 "${DENO_RUN[@]}" -A "$ROOT/main.ts" serve --config "$TMP/gateway.yaml"
PID_GATEWAY=$LAST_PID

for spec in "origin $P_ORIGIN $PID_ORIGIN" "${SERVICES[@]}" "gateway $P_GATEWAY $PID_GATEWAY"; do
  read -r name port pid <<<"$spec"
  if ! wait_http "http://127.0.0.1:$port$OBJECT_PATH" 60 "$pid"; then
    log "$name did not start:"
    tail -5 "$TMP/$name.log" >&2 || true
    exit 1
  fi
  out="$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$port$OBJECT_PATH")"
  [ "$out" = "200 1024" ] || { log "$name answered '$out' instead of '200 1024'"; exit 1; }
done

HZ="$(getconf CLK_TCK)"
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# slice <pid> <port>: CPU µs per request of <pid> over one wrk slice
slice() {
  local before after out requests
  before="$(ticks "$1")"
  out="$(taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"${SLICE}s" "http://127.0.0.1:$2$OBJECT_PATH")"
  after="$(ticks "$1")"
  requests="$(awk '/requests in/ { print $1 }' <<<"$out")"
  awk -v a="$before" -v b="$after" -v r="$requests" -v hz="$HZ" \
    'BEGIN { if (r > 0) printf "%.1f", (b - a) / hz * 1e6 / r; else print "nan" }'
}

log "warm-up"
slice "$PID_PASS" "$P_PASS" >/dev/null
slice "$PID_GATEWAY" "$P_GATEWAY" >/dev/null
[ "$MODE" = hit ] && slice "$PID_LOGGED" "$P_LOGGED" >/dev/null

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
pass=() gateway=() ratios=() logged=() logged_ratios=()
for round in $(seq "$ROUNDS"); do
  p="$(slice "$PID_PASS" "$P_PASS")"
  g="$(slice "$PID_GATEWAY" "$P_GATEWAY")"
  pass+=("$p") gateway+=("$g")
  # The anchor's CPU over the gateway's: the throughput ratio when CPU is what limits both.
  ratios+=("$(ratio "$p" "$g")")
  if [ "$MODE" = hit ]; then
    l="$(slice "$PID_LOGGED" "$P_LOGGED")"
    logged+=("$l") logged_ratios+=("$(ratio "$p" "$l")")
    log "round $round of $ROUNDS: $ANCHOR_NAME $p µs, with access log $l µs, gateway $g µs"
  else
    log "round $round of $ROUNDS: $ANCHOR_NAME $p µs, gateway $g µs"
  fi
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo
if [ "$MODE" = hit ]; then WHAT="cache hits"; else WHAT="misses"; fi
echo "1 KiB $WHAT, CPU µs per request on one pinned CPU (median of $ROUNDS alternating ${SLICE}s slices)"
echo "$ANCHOR_NAME: $(median "${pass[@]}")   all: ${pass[*]}"
echo "gateway: $(median "${gateway[@]}")   all: ${gateway[*]}"
echo "$ANCHOR_NAME CPU / gateway CPU: $(median "${ratios[@]}")x (per slice pair: ${ratios[*]}); >= 0.90x matches the load target"
if [ "$MODE" = hit ]; then
  echo "$ANCHOR_NAME with an access log: $(median "${logged[@]}")   all: ${logged[*]}"
  echo "context: $ANCHOR_NAME CPU / the same with one JSON access line per request: $(median "${logged_ratios[@]}")x (per round: ${logged_ratios[*]})"
fi
