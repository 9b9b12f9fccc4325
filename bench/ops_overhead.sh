#!/usr/bin/env bash
# Owns the operations-overhead bench: full-pipeline 1 KiB cache-hit throughput with metrics, the
# access log and the audit log on, against the same gateway with all three off (target >= 0.9x).
#
# Usage: bench/ops_overhead.sh   (from anywhere; env: DURATION=2 ROUNDS=24 WARMUP=2 CONNECTIONS=50
#                                 THREADS=1 AUDIT=auto|on|off SCRAPE_EVERY=1 ON_FEATURES=metrics,access,audit
#                                 WRITER=auto|thread|inline KEEP_TMP=1)
#   WRITER       logging.writer of both gateways (the "on" one formats its access and audit lines
#                on a log thread with thread, or auto with 2+ CPUs; in the request thread with inline)
#   ON_FEATURES  which features the "on" gateway has (default all three; name fewer to find which one costs)
#   AUDIT=auto  add an audit_log block to the "on" gateway if `validate-config` accepts it (default)
#   AUDIT=on    require it (exit 2 if this build rejects it); AUDIT=off never add it
#   AUDIT_LOG_YAML='audit_log: {...}'  the block to use instead of the built-in one
#   SCRAPE_EVERY=N  scrape /metrics of the "on" gateway every N s while it is loaded (0: never;
#                   default 1, far more often than a real Prometheus, so the cost is not hidden)
# Everything listens on 127.0.0.1 on free ports and is stopped on exit.
set -euo pipefail

# Short rounds, many of them: this host's speed changes within seconds, and 8-10 s rounds of the
# same code gave per-round ratios from 0.73 to 1.33 in one run; 2 s rounds in flipping order give
# a steadier median.
DURATION="${DURATION:-2}"
ROUNDS="${ROUNDS:-24}"
WARMUP="${WARMUP:-2}"
CONNECTIONS="${CONNECTIONS:-50}"
THREADS="${THREADS:-1}"
AUDIT="${AUDIT:-auto}"
SCRAPE_EVERY="${SCRAPE_EVERY:-1}"
ON_FEATURES="${ON_FEATURES:-metrics,access,audit}"
KEEP_TMP="${KEEP_TMP:-0}"
WRITER="${WRITER:-auto}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SIZE=1024
OBJECT_PATH="/bench/object-1k.bin"

LOG_TAG=ops-bench
# Services' stdout is not kept (the "on" gateway's access log is redirected on its own below).
START_STDOUT=/dev/null
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# --- prerequisites -------------------------------------------------------------------------------
need_load_tools
[ "$missing" = 0 ] || exit 2
case "$AUDIT" in auto | on | off) ;; *) echo "AUDIT must be auto, on or off (got '$AUDIT')" >&2; exit 2 ;; esac
has() { [[ ",$ON_FEATURES," == *",$1,"* ]]; }
for feature in ${ON_FEATURES//,/ }; do
  case "$feature" in metrics | access | audit) ;; *) echo "ON_FEATURES: unknown '$feature' (metrics, access, audit)" >&2; exit 2 ;; esac
done
has audit || AUDIT=off

# --- workspace and cleanup ------------------------------------------------------------------------
workspace yatagarasu-ops

free_ports 4
P_ORIGIN="${PORTS[0]}" P_OFF="${PORTS[1]}" P_ON="${PORTS[2]}" P_METRICS="${PORTS[3]}"

# --- origin: any fast HTTP server; after the first request both gateways answer from memory ------
# It sends S3's headers for a GET, so the gateways store and replay what they would from S3.
start origin env PORT="$P_ORIGIN" SIZE="$SIZE" S3_HEADERS=1 \
  "${DENO_RUN[@]}" --allow-net --allow-env "$ROOT/bench/anchors/deno_fixed.ts"
PID_ORIGIN=$LAST_PID
wait_http "http://127.0.0.1:$P_ORIGIN/" 30 "$PID_ORIGIN" || { log "origin did not start"; cat "$TMP/origin.log" >&2; exit 1; }

# --- the two gateway configs: identical but for the three features -------------------------------
base_config() { # base_config <port> <log level>
  cat <<EOF
server: { address: "127.0.0.1", port: $1 }
buckets:
  - name: bench
    path_prefix: /bench
    s3: { bucket: bench, region: us-east-1, endpoint: "http://127.0.0.1:$P_ORIGIN", access_key: BENCH, secret_key: BENCH }
cache: { memory: { max_item_size_mb: 1, max_cache_size_mb: 64 } }
logging: { level: $2, format: json, writer: $WRITER }
EOF
}
# "off": warn keeps the access log (an info line per request) quiet; no metrics or audit block.
base_config "$P_OFF" warn >"$TMP/off.yaml"
{
  if has access; then base_config "$P_ON" info; else base_config "$P_ON" warn; fi
  if has metrics; then echo "metrics: { enabled: true, address: \"127.0.0.1\", port: $P_METRICS }"; fi
} >"$TMP/on.yaml"

validates() { deno run -A "$ROOT/main.ts" validate-config "$1" >"$TMP/validate.log" 2>&1; }
validates "$TMP/on.yaml" || { log "the 'on' config is invalid:"; cat "$TMP/validate.log" >&2; exit 1; }
AUDIT_STATE="off"
if [ "$AUDIT" != off ]; then
  # Enough backups that no line of the run is rotated away: the evidence counts every one.
  AUDIT_BLOCK="${AUDIT_LOG_YAML:-audit_log: { enabled: true, outputs: [file], file: { path: \"$TMP/audit.log\", max_backup_files: 100 } }}"
  cp "$TMP/on.yaml" "$TMP/on-audit.yaml"
  echo "$AUDIT_BLOCK" >>"$TMP/on-audit.yaml"
  if validates "$TMP/on-audit.yaml"; then
    mv "$TMP/on-audit.yaml" "$TMP/on.yaml"
    AUDIT_STATE="on"
  elif [ "$AUDIT" = on ]; then
    log "AUDIT=on but this build rejects the audit_log block:"
    cat "$TMP/validate.log" >&2
    exit 2
  else
    log "this build does not accept the audit_log block yet: the 'on' gateway runs without it"
    sed -n '1,3p' "$TMP/validate.log" >&2
  fi
fi

# Both gateways write their logs to files, as a deployment would (never a terminal).
start gateway_off "${DENO_RUN[@]}" -A "$ROOT/main.ts" serve --config "$TMP/off.yaml"
# shellcheck disable=SC2034 # read through ${!pid_var} below
PID_OFF=$LAST_PID
setsid "${DENO_RUN[@]}" -A "$ROOT/main.ts" serve --config "$TMP/on.yaml" \
  >"$TMP/access.log" 2>"$TMP/gateway_on.log" </dev/null &
PID_ON=$!
PIDS+=("$PID_ON")
for which in off on; do
  port_var="P_${which^^}" pid_var="PID_${which^^}"
  if ! wait_http "http://127.0.0.1:${!port_var}/health" 60 "${!pid_var}"; then
    log "gateway '$which' did not start:"
    tail -5 "$TMP/gateway_$which.log" >&2 || true
    exit 1
  fi
done
if has metrics; then
  wait_http "http://127.0.0.1:$P_METRICS/metrics" 10 "$PID_ON" || { log "no metrics listener"; exit 1; }
else
  SCRAPE_EVERY=0
fi

# Fill both caches, then prove both answer 1 KiB HITs.
for port in "$P_OFF" "$P_ON"; do
  curl -s -o /dev/null "http://127.0.0.1:$port$OBJECT_PATH"
  out="$(curl -s -o /dev/null -D "$TMP/headers" -w '%{http_code} %{size_download}' "http://127.0.0.1:$port$OBJECT_PATH")"
  xcache="$(awk -F': ' 'tolower($1) == "x-cache" { gsub(/\r/, "", $2); print $2 }' "$TMP/headers")"
  if [ "$out" != "200 $SIZE" ] || [ "$xcache" != HIT ]; then
    log "gateway on port $port does not serve a 1 KiB HIT (got '$out', X-Cache '$xcache')"
    exit 1
  fi
done

# --- load ----------------------------------------------------------------------------------------
RESULTS="$TMP/results.tsv" # round \t variant \t req/s \t errors
: >"$RESULTS"
scraper() { # scrapes the "on" gateway every SCRAPE_EVERY s until killed
  while :; do
    curl -s -o /dev/null "http://127.0.0.1:$P_METRICS/metrics" || true
    sleep "$SCRAPE_EVERY"
  done
}
run_wrk() { # run_wrk <round> <variant> <port>
  local round="$1" variant="$2" port="$3" out rps errs scrape_pid=""
  if [ "$variant" = on ] && [ "$SCRAPE_EVERY" != 0 ]; then
    scraper &
    scrape_pid=$!
  fi
  out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s \
    "http://127.0.0.1:$port$OBJECT_PATH" 2>&1)" || true
  if [ -n "$scrape_pid" ]; then kill "$scrape_pid" 2>/dev/null || true; wait "$scrape_pid" 2>/dev/null || true; fi
  echo "$out" >>"$TMP/wrk-$variant.txt"
  rps="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
  errs="$(awk '/Non-2xx or 3xx responses:/ { n += $NF }
    /Socket errors:/ { for (i = 3; i <= NF; i += 2) { v = $(i + 1); gsub(/,/, "", v); n += v } }
    END { print n + 0 }' <<<"$out")"
  [ -n "$rps" ] || { log "wrk gave no result for '$variant':"; echo "$out" >&2; rps=0; }
  log "round $round $variant: $rps req/s, $errs errors"
  printf '%s\t%s\t%s\t%s\n' "$round" "$variant" "$rps" "$errs" >>"$RESULTS"
}

if [ "$WARMUP" != 0 ]; then
  for port in "$P_OFF" "$P_ON"; do
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "http://127.0.0.1:$port$OBJECT_PATH" >/dev/null 2>&1 || true
  done
fi
# Alternating, and the order flips each round, so drift in the machine's load falls on both alike.
for round in $(seq "$ROUNDS"); do
  if ((round % 2)); then order=(off on); else order=(on off); fi
  for variant in "${order[@]}"; do
    port_var="P_${variant^^}"
    run_wrk "$round" "$variant" "${!port_var}"
  done
done

# --- proof that the features did their work ------------------------------------------------------
counted="not enabled"
if has metrics; then
  scrape="$(curl -s "http://127.0.0.1:$P_METRICS/metrics" || true)"
  counted="$(awk '/^http_requests_total\{bucket="bench",method="GET",status="200"\}/ { print $2 }' <<<"$scrape")"
fi
access_lines="$(grep -c '"msg":"request"' "$TMP/access.log" || true)"
audit_lines=0
# The audit file rotates at max_file_size_mb (50 MiB by default): count the rotated files too.
if [ "$AUDIT_STATE" = on ] && [ -f "$TMP/audit.log" ]; then
  for file in "$TMP"/audit.log "$TMP"/audit.log.[0-9]*; do
    [ -f "$file" ] && audit_lines=$((audit_lines + $(wc -l <"$file")))
  done
fi

# --- report --------------------------------------------------------------------------------------
echo
echo "Operations overhead: 1 KiB memory-cache HITs through the whole pipeline; wrk -t$THREADS" \
  "-c$CONNECTIONS, ${DURATION}s per run, $ROUNDS alternating rounds, loopback, $(nproc 2>/dev/null || echo '?') CPUs"
on_parts=()
if has metrics; then on_parts+=("metrics (listener :$P_METRICS, scraped every ${SCRAPE_EVERY}s)"); fi
if has access; then on_parts+=("access log (level info, to a file)"); fi
if [ "$AUDIT_STATE" = on ]; then on_parts+=("audit log (to a file)"); fi
on_text="$(IFS='|'; echo "${on_parts[*]:-nothing}")"
echo "on  = ${on_text//|/ + } (logging.writer: $WRITER)"
echo "off = no metrics block, logging.level warn, no audit_log"
echo "on-gateway evidence: http_requests_total{bucket=\"bench\",GET,200} = ${counted:-missing}," \
  "access-log lines = $access_lines, audit-log lines = $audit_lines"
echo
awk -F'\t' '
  function median(arr, n,   i, j, t, v) {
    for (i = 1; i <= n; i++) v[i] = arr[i]
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
  }
  { rps[$1, $2] = $3 + 0; errs[$2] += $4; if ($1 > rounds) rounds = $1 }
  END {
    printf "%-8s %12s %12s %8s\n", "round", "off req/s", "on req/s", "on/off"
    for (r = 1; r <= rounds; r++) {
      ratio = rps[r, "off"] > 0 ? rps[r, "on"] / rps[r, "off"] : 0
      ratios[r] = ratio; offs[r] = rps[r, "off"]; ons[r] = rps[r, "on"]
      printf "%-8d %12.0f %12.0f %8.3f\n", r, rps[r, "off"], rps[r, "on"], ratio
    }
    m = median(ratios, rounds)
    printf "%-8s %12.0f %12.0f %8.3f\n", "median", median(offs, rounds), median(ons, rounds), m
    printf "errors: off %d, on %d\n", errs["off"], errs["on"]
    printf "\non/off (median of per-round ratios): %.3fx  (target >= 0.90x)%s\n", m, (m >= 0.9 ? "" : "  BELOW TARGET")
  }' "$RESULTS"
