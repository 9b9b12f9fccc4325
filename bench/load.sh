#!/usr/bin/env bash
# Owns the load comparison: the gateway measured against nginx and minimal-Deno anchors in one run (DESIGN §5).
#
# Usage: bench/load.sh            (from anywhere; env: DURATION=10 ROUNDS=3 WARMUP=2 CONNECTIONS=50
#                                  STREAM_CONNECTIONS=4 THREADS=1 PAIRS=12 PAIR_SLICE=1
#                                  TAIL_PAIRS=6 TAIL_SLICE=3
#                                  SKIP_GATEWAY=1 KEEP_TMP=1 WRITER=auto|thread|inline)
# Everything listens on 127.0.0.1 on free ports and is stopped on exit.
set -euo pipefail

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-50}"
STREAM_CONNECTIONS="${STREAM_CONNECTIONS:-4}"
THREADS="${THREADS:-1}"
SKIP_GATEWAY="${SKIP_GATEWAY:-0}"
KEEP_TMP="${KEEP_TMP:-0}"
# logging.writer of the gateways (auto: the access lines are written by a log thread with 2+ CPUs).
WRITER="${WRITER:-auto}"
ROUNDS="${ROUNDS:-3}"
PAIRS="${PAIRS:-12}"
PAIR_SLICE="${PAIR_SLICE:-1}"
# A pair is steady when each side's two slices differ by at most this fraction of their mean.
STEADY_SPREAD="${STEADY_SPREAD:-0.15}"
# The hit p99 against nginx's, in its own A B B A pairs of longer slices (a p99 needs more requests).
TAIL_PAIRS="${TAIL_PAIRS:-6}"
TAIL_SLICE="${TAIL_SLICE:-3}"
WARMUP="${WARMUP:-2}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUCKET="bench-bucket"
SMALL_KEY="small-1k.bin"
LARGE_KEY="large-50m.bin"
SMALL_SIZE=1024
LARGE_SIZE=$((50 * 1024 * 1024))

LOG_TAG=bench
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# --- prerequisites -------------------------------------------------------------------------------
need nginx "apt-get install -y nginx-light   (or nginx)"
need_load_tools
[ "$missing" = 0 ] || exit 2

# --- workspace and cleanup ------------------------------------------------------------------------
workspace yatagarasu-bench

# expect_body <url> <bytes>: the target must answer 200 with the whole object, or the bench is meaningless
expect_body() {
  local out
  out="$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "$1")"
  if [ "$out" != "200 $2" ]; then
    log "sanity check failed for $1: got '$out', expected '200 $2'"
    return 1
  fi
}

free_ports 9
P_ORIGIN="${PORTS[0]}" P_NGINX_PASS="${PORTS[1]}" P_NGINX_CACHE="${PORTS[2]}"
P_DENO_PASS="${PORTS[3]}" P_DENO_FIXED="${PORTS[4]}" P_GATEWAY="${PORTS[5]}" P_GATEWAY_CACHED="${PORTS[6]}"
P_DENO_MAP="${PORTS[7]}" P_METRICS="${PORTS[8]}"

# --- the fast origin: nginx serving files laid out path-style /<bucket>/<key> --------------------
mkdir -p "$TMP/origin/$BUCKET" "$TMP/origin-nginx/logs" "$TMP/proxy-nginx/logs" "$TMP/proxy-nginx/cache"
head -c "$SMALL_SIZE" /dev/urandom >"$TMP/origin/$BUCKET/$SMALL_KEY"
head -c "$LARGE_SIZE" /dev/urandom >"$TMP/origin/$BUCKET/$LARGE_KEY"

# Workers must read a 0700 temp dir: as root, keep them root rather than nobody.
USER_LINE=""
if [ "$(id -u)" = 0 ]; then USER_LINE="user root;"; fi

nginx_common() { # nginx_common <prefix dir>
  cat <<EOF
$USER_LINE
daemon off;
master_process on;
worker_processes 1;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
EOF
}
nginx_http_common() { # nginx_http_common <prefix dir>
  cat <<EOF
  access_log off;
  default_type application/octet-stream;
  client_body_temp_path $1/client_body;
  proxy_temp_path $1/proxy_temp;
  fastcgi_temp_path $1/fastcgi_temp;
  uwsgi_temp_path $1/uwsgi_temp;
  scgi_temp_path $1/scgi_temp;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
EOF
}

{
  nginx_common "$TMP/origin-nginx"
  echo "http {"
  nginx_http_common "$TMP/origin-nginx"
  cat <<EOF
  sendfile on;
  tcp_nopush on;
  server {
    listen 127.0.0.1:$P_ORIGIN;
    root $TMP/origin;
  }
}
EOF
} >"$TMP/origin-nginx/nginx.conf"

# Anchors A and B live in a second nginx so the origin keeps its own worker.
{
  nginx_common "$TMP/proxy-nginx"
  echo "http {"
  nginx_http_common "$TMP/proxy-nginx"
  cat <<EOF
  upstream origin {
    server 127.0.0.1:$P_ORIGIN;
    keepalive 128;
    keepalive_requests 1000000;
  }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_cache_path $TMP/proxy-nginx/cache levels=1:2 keys_zone=bench:16m max_size=1g inactive=60m use_temp_path=off;
  server {
    listen 127.0.0.1:$P_NGINX_PASS;
    location / { proxy_pass http://origin; }
  }
  server {
    listen 127.0.0.1:$P_NGINX_CACHE;
    location / {
      proxy_pass http://origin;
      proxy_cache bench;
      proxy_cache_valid 200 60m;
      add_header X-Cache-Status \$upstream_cache_status;
    }
  }
}
EOF
} >"$TMP/proxy-nginx/nginx.conf"

for which in origin-nginx proxy-nginx; do
  if ! nginx -t -q -p "$TMP/$which" -e "$TMP/$which/logs/error.log" -c "$TMP/$which/nginx.conf" \
    >"$TMP/$which-test.log" 2>&1; then
    log "nginx rejected $which config:"
    cat "$TMP/$which-test.log" >&2
    exit 1
  fi
done
start origin_nginx nginx -p "$TMP/origin-nginx" -e "$TMP/origin-nginx/logs/error.log" \
  -c "$TMP/origin-nginx/nginx.conf"
PID_ORIGIN=$LAST_PID
start proxy_nginx nginx -p "$TMP/proxy-nginx" -e "$TMP/proxy-nginx/logs/error.log" \
  -c "$TMP/proxy-nginx/nginx.conf"
PID_PROXY=$LAST_PID
start deno_pass env PORT="$P_DENO_PASS" ORIGIN="http://127.0.0.1:$P_ORIGIN" \
  "${DENO_RUN[@]}" --allow-net --allow-env "$ROOT/bench/anchors/deno_passthrough.ts"
PID_DENO_PASS=$LAST_PID
start deno_fixed env PORT="$P_DENO_FIXED" SIZE="$SMALL_SIZE" \
  "${DENO_RUN[@]}" --allow-net --allow-env "$ROOT/bench/anchors/deno_fixed.ts"
PID_DENO_FIXED=$LAST_PID
start deno_map env PORT="$P_DENO_MAP" ORIGIN="http://127.0.0.1:$P_ORIGIN" \
  "${DENO_RUN[@]}" --allow-net --allow-env "$ROOT/bench/anchors/deno_map_cache.ts"
PID_DENO_MAP=$LAST_PID

need_up() { # need_up <url> <seconds> <pid> <what> <log file>
  if ! wait_http "$1" "$2" "$3"; then
    log "$4 did not start:"
    cat "$5" >&2 || true
    exit 1
  fi
}
need_up "http://127.0.0.1:$P_ORIGIN/" 10 "$PID_ORIGIN" "origin nginx" "$TMP/origin-nginx/logs/error.log"
need_up "http://127.0.0.1:$P_NGINX_PASS/" 10 "$PID_PROXY" "proxy nginx" "$TMP/proxy-nginx/logs/error.log"
need_up "http://127.0.0.1:$P_DENO_PASS/" 30 "$PID_DENO_PASS" "deno passthrough" "$TMP/deno_pass.log"
need_up "http://127.0.0.1:$P_DENO_FIXED/" 30 "$PID_DENO_FIXED" "deno fixed" "$TMP/deno_fixed.log"
need_up "http://127.0.0.1:$P_DENO_MAP/" 30 "$PID_DENO_MAP" "deno map-cache" "$TMP/deno_map.log"

# --- the gateway ---------------------------------------------------------------------------------
GATEWAY_OK=0
GATEWAY_CACHED_OK=0
if [ "$SKIP_GATEWAY" != 1 ]; then
  if [ ! -f "$ROOT/main.ts" ]; then
    log "no main.ts yet: gateway rows skipped"
  else
    # One bucket on the fast origin; every request is a miss (no cache exists yet). The access log
    # stays on, as shipped (one JSON line per request), written to /dev/null: a bench must not
    # measure a terminal.
    cat >"$TMP/gateway.yaml" <<EOF
server: { address: "127.0.0.1", port: $P_GATEWAY }
buckets:
  - name: bench
    path_prefix: /$BUCKET
    s3: { bucket: $BUCKET, region: us-east-1, endpoint: "http://127.0.0.1:$P_ORIGIN", access_key: BENCH, secret_key: BENCH }
logging: { level: info, format: json, writer: $WRITER }
EOF
    setsid "${DENO_RUN[@]}" -A "$ROOT/main.ts" serve --config "$TMP/gateway.yaml" \
      >/dev/null 2>"$TMP/gateway.log" </dev/null &
    gw_pid=$!
    PIDS+=("$gw_pid")
    if wait_http "http://127.0.0.1:$P_GATEWAY/health" 60 "$gw_pid"; then
      GATEWAY_OK=1
      log "gateway up"
    else
      log "gateway did not start:"
      tail -5 "$TMP/gateway.log" >&2 || true
    fi
    # The same gateway with the memory cache on: after one request the 1 KiB object is a HIT,
    # the row to hold against nginx proxy_cache.
    sed -e "s/port: $P_GATEWAY/port: $P_GATEWAY_CACHED/" "$TMP/gateway.yaml" >"$TMP/gateway-cached.yaml"
    echo "cache: { memory: { max_item_size_mb: 1, max_cache_size_mb: 64 } }" >>"$TMP/gateway-cached.yaml"
    # Issue #4 measures hits "through the whole pipeline (logging and metrics on)": the Prometheus
    # listener is on too (on its own port, not scraped during the run).
    echo "metrics: { enabled: true, address: \"127.0.0.1\", port: $P_METRICS }" >>"$TMP/gateway-cached.yaml"
    setsid "${DENO_RUN[@]}" -A "$ROOT/main.ts" serve --config "$TMP/gateway-cached.yaml" \
      >/dev/null 2>"$TMP/gateway-cached.log" </dev/null &
    PIDS+=("$!")
    if wait_http "http://127.0.0.1:$P_GATEWAY_CACHED/health" 60 "$!"; then
      GATEWAY_CACHED_OK=1
      log "cached gateway up"
    else
      log "cached gateway did not start:"
      tail -5 "$TMP/gateway-cached.log" >&2 || true
    fi
  fi
fi

# --- sanity: every target serves the real bytes --------------------------------------------------
SMALL_PATH="/$BUCKET/$SMALL_KEY"
LARGE_PATH="/$BUCKET/$LARGE_KEY"
expect_body "http://127.0.0.1:$P_ORIGIN$SMALL_PATH" "$SMALL_SIZE"
expect_body "http://127.0.0.1:$P_NGINX_PASS$SMALL_PATH" "$SMALL_SIZE"
expect_body "http://127.0.0.1:$P_DENO_PASS$SMALL_PATH" "$SMALL_SIZE"
expect_body "http://127.0.0.1:$P_DENO_PASS$LARGE_PATH" "$LARGE_SIZE"
expect_body "http://127.0.0.1:$P_DENO_FIXED/" "$SMALL_SIZE"
expect_body "http://127.0.0.1:$P_DENO_MAP$SMALL_PATH" "$SMALL_SIZE" # fills its Map
if [ "$GATEWAY_OK" = 1 ]; then
  if ! expect_body "http://127.0.0.1:$P_GATEWAY$SMALL_PATH" "$SMALL_SIZE" ||
    ! expect_body "http://127.0.0.1:$P_GATEWAY$LARGE_PATH" "$LARGE_SIZE"; then
    curl -s -i "http://127.0.0.1:$P_GATEWAY$SMALL_PATH" | head -20 >&2 || true
    log "gateway rows skipped: it does not serve the bench objects"
    GATEWAY_OK=0
  fi
fi
# Warm the proxy cache and prove the next request is a HIT.
curl -s -o /dev/null "http://127.0.0.1:$P_NGINX_CACHE$SMALL_PATH"
cache_status="$(curl -s -o /dev/null -D - "http://127.0.0.1:$P_NGINX_CACHE$SMALL_PATH" |
  awk -F': ' 'tolower($1) == "x-cache-status" { gsub(/\r/, "", $2); print $2 }')"
[ "$cache_status" = HIT ] || { log "nginx proxy_cache is not hitting (got '$cache_status')"; exit 1; }

# --- load ----------------------------------------------------------------------------------------
# to_ms <value-with-unit>: wrk prints latency as 123.45us / 1.23ms / 1.23s / 1.23m
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    else if (u == "h") n *= 3600000; else if (u != "ms") n = -1
    printf "%.3f", n }'
}
# to_bytes <value-with-unit>: wrk's Transfer/sec uses binary multiples (B KB MB GB TB)
to_bytes() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "KB") n *= 1024; else if (u == "MB") n *= 1048576
    else if (u == "GB") n *= 1073741824; else if (u == "TB") n *= 1099511627776
    printf "%.0f", n }'
}

RESULTS="$TMP/results.tsv" # name \t req/s \t p99 ms \t bytes/s \t errors
: >"$RESULTS"
run_wrk() { # run_wrk <name> <connections> <url>
  local name="$1" conns="$2" url="$3" out rps p99 tps errs
  log "wrk $name: -t$THREADS -c$conns -d${DURATION}s $url"
  out="$(wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --timeout 10s --latency "$url" 2>&1)" || true
  echo "$out" >>"$TMP/wrk-${name// /_}.txt"
  rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
  p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
  tps="$(awk '/^Transfer\/sec:/ { print $2 }' <<<"$out")"
  # Socket errors and non-2xx answers would inflate req/s: count them and show them.
  errs="$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i += 2) { v = $(i + 1); gsub(/,/, "", v); n += v } }
    END { print n + 0 }' <<<"$out")"
  if [ -z "$rps" ]; then
    log "wrk gave no result for $name:"
    echo "$out" >&2
    rps=0 p99="" tps=""
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rps" "$(if [ -n "$p99" ]; then to_ms "$p99"; fi)" \
    "$(if [ -n "$tps" ]; then to_bytes "$tps"; fi)" "$errs" >>"$RESULTS"
}

C="$CONNECTIONS"
S="$STREAM_CONNECTIONS"
SMALL_TARGETS=(
  "nginx proxy_cache hit|$C|http://127.0.0.1:$P_NGINX_CACHE$SMALL_PATH"
  "deno fixed body|$C|http://127.0.0.1:$P_DENO_FIXED/"
  "deno map-cache hit|$C|http://127.0.0.1:$P_DENO_MAP$SMALL_PATH"
  "nginx passthrough|$C|http://127.0.0.1:$P_NGINX_PASS$SMALL_PATH"
  "deno passthrough|$C|http://127.0.0.1:$P_DENO_PASS$SMALL_PATH"
)
[ "$GATEWAY_OK" = 1 ] && SMALL_TARGETS+=("gateway|$C|http://127.0.0.1:$P_GATEWAY$SMALL_PATH")
if [ "$GATEWAY_CACHED_OK" = 1 ] &&
  expect_body "http://127.0.0.1:$P_GATEWAY_CACHED$SMALL_PATH" "$SMALL_SIZE"; then
  SMALL_TARGETS+=("gateway cache hit|$C|http://127.0.0.1:$P_GATEWAY_CACHED$SMALL_PATH")
fi
STREAM_TARGETS=(
  "origin sendfile 50MiB|$S|http://127.0.0.1:$P_ORIGIN$LARGE_PATH"
  "deno stream 50MiB|$S|http://127.0.0.1:$P_DENO_PASS$LARGE_PATH"
)
[ "$GATEWAY_OK" = 1 ] && STREAM_TARGETS+=("gateway stream 50MiB|$S|http://127.0.0.1:$P_GATEWAY$LARGE_PATH")

# Warm-up (not recorded): JIT, connection pools and page cache settle before anything is measured.
if [ "$WARMUP" != 0 ]; then
  for target in "${SMALL_TARGETS[@]}" "${STREAM_TARGETS[@]}"; do
    IFS='|' read -r name conns url <<<"$target"
    wrk -t"$THREADS" -c"$conns" -d"${WARMUP}s" "$url" >/dev/null 2>&1 || true
  done
fi
# Rounds interleave the targets, so a burst of outside load hits every row alike; the table shows
# each row's median over the rounds.
for round in $(seq "$ROUNDS"); do
  log "round $round of $ROUNDS"
  for target in "${SMALL_TARGETS[@]}" "${STREAM_TARGETS[@]}"; do
    IFS='|' read -r name conns url <<<"$target"
    run_wrk "$name" "$conns" "$url"
  done
done

# Paired slices: each gateway row and its anchor, back to back in short slices ordered A B B A
# (which side goes first swaps every pair), so a slow phase of the host, or one that drifts during
# the pair, lands on both sides of a ratio instead of on one row.
# pair_measure <connections> <url> <rps|bps>: req/s, or bytes/s, of one PAIR_SLICE-second wrk run
pair_measure() {
  local out
  # A failed run counts as 0 (shown in its pair), never as the end of the script.
  out="$(wrk -t"$THREADS" -c"$1" -d"${PAIR_SLICE}s" "$2" 2>/dev/null || true)"
  if [ "$3" = bps ]; then
    # 50 MiB answers are too few per slice to count: the bytes wrk read are the measure.
    out="$(awk '/^Transfer\/sec:/ { print $2 }' <<<"$out")"
    if [ -n "$out" ]; then to_bytes "$out"; else echo 0; fi
  else
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
  fi
}
PAIRED="$TMP/paired.tsv" # comparison \t pair \t gateway (2 slices) \t anchor (2 slices)
: >"$PAIRED"
# label | target | connections | rps or bps | gateway URL | anchor URL
PAIR_SPECS=()
[ "$GATEWAY_OK" = 1 ] && PAIR_SPECS+=(
  "gateway / deno passthrough (1 KiB miss)|0.9|$C|rps|http://127.0.0.1:$P_GATEWAY$SMALL_PATH|http://127.0.0.1:$P_DENO_PASS$SMALL_PATH"
  "gateway / deno stream (50 MiB bytes/s)|0.95|$S|bps|http://127.0.0.1:$P_GATEWAY$LARGE_PATH|http://127.0.0.1:$P_DENO_PASS$LARGE_PATH")
if [ "$GATEWAY_CACHED_OK" = 1 ]; then
  PAIR_SPECS+=(
    "gateway cache hit / deno map-cache hit|0.9|$C|rps|http://127.0.0.1:$P_GATEWAY_CACHED$SMALL_PATH|http://127.0.0.1:$P_DENO_MAP$SMALL_PATH"
    "gateway cache hit / nginx proxy_cache hit|0.65|$C|rps|http://127.0.0.1:$P_GATEWAY_CACHED$SMALL_PATH|http://127.0.0.1:$P_NGINX_CACHE$SMALL_PATH")
fi
if [ "$PAIRS" -gt 0 ] && [ "${#PAIR_SPECS[@]}" -gt 0 ]; then
  log "paired slices: $PAIRS pairs of 2 x ${PAIR_SLICE}s per side (A B B A)"
  # One comparison's pairs run back to back, each side loaded for one unrecorded slice first.
  # Interleaved with the other comparisons (until session 10), each side's first slice of a miss
  # pair came after some 8 s without load and ran slower than its second: in one run the median
  # ratio of the two was 0.88 for the gateway and 0.90 for the Deno passthrough (1.03 and 0.99 for
  # the hit pairs). That is a cold start; the targets are about a gateway under steady load.
  for spec in "${PAIR_SPECS[@]}"; do
    IFS='|' read -r label _ conns metric gw_url anchor_url <<<"$spec"
    pair_measure "$conns" "$gw_url" "$metric" >/dev/null
    pair_measure "$conns" "$anchor_url" "$metric" >/dev/null
    for pair in $(seq "$PAIRS"); do
      # A B B A: a host whose speed drifts during the pair slows both sides alike.
      if [ $((pair % 2)) = 1 ]; then
        g1="$(pair_measure "$conns" "$gw_url" "$metric")"
        a1="$(pair_measure "$conns" "$anchor_url" "$metric")"
        a2="$(pair_measure "$conns" "$anchor_url" "$metric")"
        g2="$(pair_measure "$conns" "$gw_url" "$metric")"
      else
        a1="$(pair_measure "$conns" "$anchor_url" "$metric")"
        g1="$(pair_measure "$conns" "$gw_url" "$metric")"
        g2="$(pair_measure "$conns" "$gw_url" "$metric")"
        a2="$(pair_measure "$conns" "$anchor_url" "$metric")"
      fi
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$pair" "${g1:-0}" "${g2:-0}" "${a1:-0}" "${a2:-0}" >>"$PAIRED"
    done
  done
fi

# Tail pairs: the gateway's hit p99 against nginx proxy_cache's, A B B A as above but in slices of
# TAIL_SLICE seconds, since a p99 rests on its slowest 1% and a 1 s slice holds few of them. The
# 6 s table rows give one p99 per round, taken minutes apart from the other side's.
tail_run() { # tail_run <url>: "req/s p99-ms" of one TAIL_SLICE-second wrk run (0 0 when it failed)
  local out rps p99
  out="$(wrk -t"$THREADS" -c"$C" -d"${TAIL_SLICE}s" --latency "$1" 2>/dev/null || true)"
  rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
  p99="$(awk '$1 == "99%" { print $2 }' <<<"$out")"
  echo "${rps:-0} $(if [ -n "$p99" ]; then to_ms "$p99"; else echo 0; fi)"
}
TAILS="$TMP/tails.tsv" # pair \t gateway p99 ms (2 slices) \t nginx p99 ms (2) \t gateway req/s (2) \t nginx req/s (2)
: >"$TAILS"
if [ "$TAIL_PAIRS" -gt 0 ] && [ "$GATEWAY_CACHED_OK" = 1 ]; then
  log "tail pairs: $TAIL_PAIRS pairs of 2 x ${TAIL_SLICE}s per side (A B B A), hit p99 against nginx"
  gw_url="http://127.0.0.1:$P_GATEWAY_CACHED$SMALL_PATH"
  anchor_url="http://127.0.0.1:$P_NGINX_CACHE$SMALL_PATH"
  for pair in $(seq "$TAIL_PAIRS"); do
    if [ $((pair % 2)) = 1 ]; then
      read -r g1 gp1 <<<"$(tail_run "$gw_url")"
      read -r a1 ap1 <<<"$(tail_run "$anchor_url")"
      read -r a2 ap2 <<<"$(tail_run "$anchor_url")"
      read -r g2 gp2 <<<"$(tail_run "$gw_url")"
    else
      read -r a1 ap1 <<<"$(tail_run "$anchor_url")"
      read -r g1 gp1 <<<"$(tail_run "$gw_url")"
      read -r g2 gp2 <<<"$(tail_run "$gw_url")"
      read -r a2 ap2 <<<"$(tail_run "$anchor_url")"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pair" "$gp1" "$gp2" "$ap1" "$ap2" \
      "$g1" "$g2" "$a1" "$a2" >>"$TAILS"
  done
fi

# --- report --------------------------------------------------------------------------------------
echo
echo "Load comparison: wrk -t$THREADS, ${DURATION}s per row, median of $ROUNDS round(s), loopback," \
  "$(nproc 2>/dev/null || echo '?') CPUs"
echo "1 KiB requests: -c$C    50 MiB streams: -c$S"
echo
# Sorting and the median, shared by the table and the paired report.
AWK_MEDIAN='
  function sort_(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t } }
  function median_(a, n) { sort_(a, n); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }'
awk -F'\t' "$AWK_MEDIAN"'
  function median(key, n,   i, v) {
    for (i = 1; i <= n; i++) v[i] = vals[key, i]
    return median_(v, n)
  }
  function add(key, value) { vals[key, ++count[key]] = value }
  {
    if (!($1 in seen)) { seen[$1] = 1; order[++names] = $1 }
    add($1 SUBSEP "rps", $2 + 0); add($1 SUBSEP "bps", $4 + 0)
    if ($3 != "") add($1 SUBSEP "p99", $3 + 0)
    errors[$1] += $5; rounds[$1]++
    if ($1 == "gateway") gw_r[rounds[$1]] = $2 + 0
    if ($1 == "deno passthrough") dp_r[rounds[$1]] = $2 + 0
    if ($1 == "gateway stream 50MiB") gs_r[rounds[$1]] = $4 + 0
    if ($1 == "deno stream 50MiB") ds_r[rounds[$1]] = $4 + 0
  }
  END {
    printf "%-24s %12s %10s %10s %8s\n", "target", "req/s", "p99 ms", "GiB/s", "errors"
    printf "%-24s %12s %10s %10s %8s\n", "------", "-----", "------", "-----", "------"
    for (k = 1; k <= names; k++) {
      n = order[k]
      rps[n] = median(n SUBSEP "rps", count[n SUBSEP "rps"])
      bps[n] = median(n SUBSEP "bps", count[n SUBSEP "bps"])
      p99 = count[n SUBSEP "p99"] ? sprintf("%.2f", median(n SUBSEP "p99", count[n SUBSEP "p99"])) : "-"
      if (p99 != "-") p99v[n] = p99 + 0
      printf "%-24s %12.0f %10s %10.3f %8d\n", n, rps[n], p99, bps[n] / 1073741824, errors[n]
    }
    print ""
    if ("gateway" in rps && rps["deno passthrough"] > 0) {
      r = rps["gateway"] / rps["deno passthrough"]
      printf "gateway / deno passthrough (1 KiB miss req/s): %.3fx  (target >= 0.90x)%s\n", r, (r >= 0.9 ? "" : "  BELOW TARGET")
      line = "    per round:"; for (i = 1; i in gw_r; i++) if (dp_r[i] > 0) line = line sprintf(" %.2f", gw_r[i] / dp_r[i]); print line
    }
    if ("gateway" in rps && rps["nginx passthrough"] > 0)
      printf "gateway / nginx passthrough (1 KiB miss req/s): %.2fx  (context)\n", rps["gateway"] / rps["nginx passthrough"]
    if ("gateway stream 50MiB" in bps && bps["deno stream 50MiB"] > 0) {
      r = bps["gateway stream 50MiB"] / bps["deno stream 50MiB"]
      printf "gateway / deno stream (50 MiB bytes/s):        %.3fx  (target >= 0.95x)%s\n", r, (r >= 0.95 ? "" : "  BELOW TARGET")
      line = "    per round:"; for (i = 1; i in gs_r; i++) if (ds_r[i] > 0) line = line sprintf(" %.2f", gs_r[i] / ds_r[i]); print line
    }
    if (bps["origin sendfile 50MiB"] > 0)
      printf "deno stream / origin sendfile (50 MiB):        %.2fx  (context)\n", bps["deno stream 50MiB"] / bps["origin sendfile 50MiB"]
    if (rps["deno fixed body"] > 0)
      printf "deno passthrough / deno fixed (1 KiB):         %.2fx  (context: cost of the upstream fetch)\n", rps["deno passthrough"] / rps["deno fixed body"]
    if ("gateway cache hit" in rps && rps["nginx proxy_cache hit"] > 0) {
      r = rps["gateway cache hit"] / rps["nginx proxy_cache hit"]
      printf "gateway cache hit / nginx proxy_cache hit:     %.3fx  (target >= 0.65x)%s\n", r, (r >= 0.65 ? "" : "  BELOW TARGET")
    }
    if ("gateway cache hit" in rps && rps["deno map-cache hit"] > 0) {
      r = rps["gateway cache hit"] / rps["deno map-cache hit"]
      printf "gateway cache hit / deno map-cache hit:        %.3fx  (target >= 0.90x)%s\n", r, (r >= 0.9 ? "" : "  BELOW TARGET")
    }
    if ("gateway cache hit" in p99v && p99v["nginx proxy_cache hit"] > 0) {
      r = p99v["gateway cache hit"] / p99v["nginx proxy_cache hit"]
      printf "gateway cache hit p99 / nginx proxy_cache p99: %.2fx  (target <= 2x)%s\n", r, (r <= 2 ? "" : "  ABOVE TARGET")
    }
    if ("gateway cache hit" in rps && rps["deno fixed body"] > 0)
      printf "gateway cache hit / deno fixed body:           %.2fx  (context: the runtime ceiling)\n", rps["gateway cache hit"] / rps["deno fixed body"]
    if (!("gateway" in rps)) print "gateway: not measured (see messages above)"
  }' "$RESULTS"
if [ -s "$PAIRED" ]; then
  echo
  echo "Paired slices: $PAIRS pairs of ${PAIR_SLICE}s runs in the order A B B A (gateway and anchor swap" \
    "places each pair); median of the per-pair ratios (req/s, or bytes/s for streams), and their quartiles. * marks a pair in" \
    "which one side's two slices (g: the gateway's, a: the anchor's) differ by more than $(awk -v x="$STEADY_SPREAD" 'BEGIN { print x * 100 }')%"
  for spec in "${PAIR_SPECS[@]}"; do
    IFS='|' read -r label target _ _ _ _ <<<"$spec"
    awk -F'\t' -v label="$label" -v target="$target" -v steady_max="$STEADY_SPREAD" "$AWK_MEDIAN"'
      function spread(x, y) { return x + y > 0 ? 2 * (x > y ? x - y : y - x) / (x + y) : 1 }
      $1 == label && $5 + $6 > 0 {
        ratio = ($3 + $4) / ($5 + $6); r[++n] = ratio; all = all sprintf(" %.2f", ratio)
        # Steady: each side ran at about one speed in its two slices, so the host did not change
        # pace in the middle of the pair.
        if (spread($3, $4) <= steady_max && spread($5, $6) <= steady_max) s[++k] = ratio
        else all = all "*" (spread($3, $4) > steady_max ? "g" : "") (spread($5, $6) > steady_max ? "a" : "")
      }
      END {
        if (n == 0) exit
        m = median_(r, n) # sorts r
        q1 = r[int((n + 3) / 4)]; q3 = r[n + 1 - int((n + 3) / 4)]
        printf "%-44s %.3fx  (target >= %.2fx)%s\n    quartiles: %.2f .. %.2f   per pair:%s\n", label ":", m, target, (m >= target ? "" : "  BELOW TARGET"), q1, q3, all
        if (k > 0) printf "    steady pairs (%d of %d): median %.3fx\n", k, n, median_(s, k)
        else printf "    steady pairs: none (the host changed pace within every pair)\n"
      }' "$PAIRED"
  done
fi
if [ -s "$TAILS" ]; then
  echo
  echo "Tail pairs: $TAIL_PAIRS pairs of ${TAIL_SLICE}s runs in the order A B B A; a pair's ratio is" \
    "the gateway's mean p99 of its two slices over nginx proxy_cache's; median and quartiles"
  awk -F'\t' "$AWK_MEDIAN"'
    $4 + $5 > 0 && $2 > 0 && $3 > 0 {
      t[++n] = ($2 + $3) / ($4 + $5); all = all sprintf(" %.2f", t[n])
      # The req/s of the same slices, to show that neither side was starved while its tail was read.
      r[n] = $8 + $9 > 0 ? ($6 + $7) / ($8 + $9) : 0
      gp = gp sprintf(" %.2f/%.2f", $2, $3); ap = ap sprintf(" %.2f/%.2f", $4, $5)
    }
    END {
      if (n == 0) { print "tail pairs: no complete pair (see the wrk messages above)"; exit }
      m = median_(t, n); q1 = t[int((n + 3) / 4)]; q3 = t[n + 1 - int((n + 3) / 4)]
      printf "gateway cache hit p99 / nginx proxy_cache p99: %.2fx  (target <= 2x)%s\n", m, (m <= 2 ? "" : "  ABOVE TARGET")
      printf "    quartiles: %.2f .. %.2f   per pair:%s\n", q1, q3, all
      printf "    p99 ms, gateway:%s\n    p99 ms, nginx:  %s\n", gp, ap
      printf "    req/s of the same slices, gateway / nginx: median %.3fx\n", median_(r, n)
    }' "$TAILS"
fi
