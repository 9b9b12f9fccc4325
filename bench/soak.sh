#!/usr/bin/env bash
# Owns the soak test: the gateway under a steady, bounded mixed load (hits, misses, ranges, streams),
# reporting errors and whether its RSS at the end stays within 10% of its RSS after warm-up.
#
# Usage: bench/soak.sh     (env: SOAK_SECONDS=600 WARMUP_SECONDS=30 CONNECTIONS=16 RATE=2000 KEEP_TMP=1)
# Needs nginx (the origin), wrk (with its built-in Lua) and deno; everything listens on 127.0.0.1.
set -euo pipefail

SOAK_SECONDS="${SOAK_SECONDS:-600}"
WARMUP_SECONDS="${WARMUP_SECONDS:-30}"
CONNECTIONS="${CONNECTIONS:-16}"
KEEP_TMP="${KEEP_TMP:-0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUCKET="soak-bucket"
LOG_TAG="soak"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh" # DENO_RUN; this script keeps its own workspace and cleanup

for tool in nginx wrk deno curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing: $tool (apt-get install -y nginx wrk curl; npm i -g deno@2.9.6)" >&2; exit 2; }
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/yatagarasu-soak.XXXXXX")"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  if [ "$KEEP_TMP" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

mapfile -t PORTS < <(deno eval --quiet '
  const ls = Array.from({ length: 2 }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  for (const l of ls) console.log(l.addr.port);
  for (const l of ls) l.close();')
P_ORIGIN="${PORTS[0]}" P_GATEWAY="${PORTS[1]}"

# The origin: nginx serving path-style /<bucket>/<key> files.
mkdir -p "$TMP/origin/$BUCKET" "$TMP/nginx/logs"
for i in $(seq 0 15); do head -c 1024 /dev/urandom >"$TMP/origin/$BUCKET/hot-$i.bin"; done
head -c $((8 * 1024 * 1024)) /dev/urandom >"$TMP/origin/$BUCKET/big-8m.bin"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/origin/$BUCKET/stream-1m.bin"
USER_LINE=""; if [ "$(id -u)" = 0 ]; then USER_LINE="user root;"; fi
cat >"$TMP/nginx/nginx.conf" <<NGINX
$USER_LINE
daemon off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/cb; proxy_temp_path $TMP/nginx/pt; fastcgi_temp_path $TMP/nginx/ft;
  uwsgi_temp_path $TMP/nginx/ut; scgi_temp_path $TMP/nginx/st;
  keepalive_requests 1000000;
  sendfile on;
  server { listen 127.0.0.1:$P_ORIGIN; root $TMP/origin; }
}
NGINX
setsid nginx -p "$TMP/nginx" -e "$TMP/nginx/logs/error.log" -c "$TMP/nginx/nginx.conf" </dev/null &
PIDS+=("$!")

# The gateway: the same S3 bucket twice, once behind the memory cache, once without it.
cat >"$TMP/gateway.yaml" <<YAML
server: { address: "127.0.0.1", port: $P_GATEWAY }
buckets:
  - name: cached
    path_prefix: /cached
    s3: { bucket: $BUCKET, region: us-east-1, endpoint: "http://127.0.0.1:$P_ORIGIN", access_key: SOAK, secret_key: SOAK }
  - name: direct
    path_prefix: /direct
    s3: { bucket: $BUCKET, region: us-east-1, endpoint: "http://127.0.0.1:$P_ORIGIN", access_key: SOAK, secret_key: SOAK }
    cache: { enabled: false }
cache: { memory: { max_item_size_mb: 2, max_cache_size_mb: 64 } }
logging: { level: info, format: json }
YAML
setsid "${DENO_RUN[@]}" -A "$ROOT/main.ts" serve --config "$TMP/gateway.yaml" >/dev/null 2>"$TMP/gateway.log" </dev/null &
GW=$!
PIDS+=("$GW")
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$P_GATEWAY/health" && break; sleep 0.2; done
for path in /cached/hot-0.bin /direct/stream-1m.bin; do
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_GATEWAY$path")"
  [ "$code" = 200 ] || { log "gateway does not serve $path ($code)"; cat "$TMP/gateway.log" >&2; exit 1; }
done

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$GW/status"; }

log "warm-up ${WARMUP_SECONDS}s, -c$CONNECTIONS"
wrk -t1 -c"$CONNECTIONS" -d"${WARMUP_SECONDS}s" -s "$ROOT/bench/soak.lua" "http://127.0.0.1:$P_GATEWAY" >"$TMP/warmup.txt" 2>&1 || true
RSS_WARM="$(rss_kib)"
log "RSS after warm-up: ${RSS_WARM} KiB; soaking ${SOAK_SECONDS}s"
# Sample RSS every 10 s for the record.
( while kill -0 "$GW" 2>/dev/null; do echo "$(date +%s) $(rss_kib)"; sleep 10; done ) >"$TMP/rss.txt" &
SAMPLER=$!
wrk -t1 -c"$CONNECTIONS" -d"${SOAK_SECONDS}s" --timeout 10s -s "$ROOT/bench/soak.lua" \
  "http://127.0.0.1:$P_GATEWAY" >"$TMP/soak.txt" 2>&1 || true
kill "$SAMPLER" 2>/dev/null || true
# Let in-flight streams and the allocator settle before the last reading.
sleep 5
RSS_END="$(rss_kib)"

line="$(grep '^soak:' "$TMP/soak.txt" || true)"
rps="$(awk '/Requests\/sec:/ { print $2 }' "$TMP/soak.txt")"
echo
echo "Soak: ${SOAK_SECONDS}s at -c$CONNECTIONS (12 hits : 4 misses : 3 ranges : 1 stream of 1 MiB)"
echo "$line  req/s=$rps"
echo "RSS after warm-up: $RSS_WARM KiB   at the end: $RSS_END KiB   ratio: $(awk -v a="$RSS_WARM" -v b="$RSS_END" 'BEGIN { printf "%.3f", b / a }')"
echo "RSS samples (KiB): $(awk '{ printf "%s ", $2 }' "$TMP/rss.txt")"
non2xx="$(sed -E 's/.*non2xx=([0-9]+).*/\1/' <<<"$line")"
sockerr="$(sed -E 's/.*socket_errors=([0-9]+).*/\1/' <<<"$line")"
ok=1
[ "${non2xx:-1}" = 0 ] && [ "${sockerr:-1}" = 0 ] || { echo "FAIL: errors during the soak"; ok=0; }
awk -v a="$RSS_WARM" -v b="$RSS_END" 'BEGIN { exit !(b <= a * 1.10) }' || { echo "FAIL: RSS grew more than 10%"; ok=0; }
[ "$ok" = 1 ] && echo "PASS: no errors, RSS within 10% of the post-warm-up value"
[ "$ok" = 1 ]
