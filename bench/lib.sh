# shellcheck shell=bash
# Owns the shell helpers the load benches share: prerequisite checks, a temp workspace whose
# services are stopped on exit, service start-up, readiness waits and free loopback ports.
# Sourced (not run) by bench/load.sh and bench/ops_overhead.sh; set LOG_TAG and KEEP_TMP first.

# shellcheck disable=SC2034 # missing is read by the sourcing script
missing=0
need() { # need <command> <how to install>
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "missing: $1 — install with: $2" >&2
    missing=1
  fi
}

# need_load_tools: what every load bench here uses (wrk, deno, curl, awk); then [ "$missing" = 0 ].
need_load_tools() {
  need wrk "apt-get install -y wrk"
  need deno "npm i -g deno@2.9.6   (or npx -y deno@2.9.6 ...)"
  need curl "apt-get install -y curl"
  need awk "apt-get install -y gawk"
}

log() { echo "[$LOG_TAG] $*" >&2; }

# The gateway runs as it ships (deno.json's serve task, the compiled binary): V8's memory reducer
# off, see README "Runtime flags". The Deno anchors get the same flags, so a ratio compares code,
# not runtime settings (the passthrough anchor slows after idle with the reducer on, too). An empty
# GATEWAY_V8_FLAGS measures every Deno server with Deno's defaults instead.
GATEWAY_V8_FLAGS="${GATEWAY_V8_FLAGS---no-memory-reducer}"
# DENO_RUN: how every Deno server of a bench starts ("${DENO_RUN[@]}" -A main.ts serve ...).
DENO_RUN=(deno run)
if [ -n "$GATEWAY_V8_FLAGS" ]; then DENO_RUN+=("--v8-flags=$GATEWAY_V8_FLAGS"); fi

# workspace <name>: makes $TMP and stops every started service (and removes $TMP) on exit.
workspace() {
  TMP="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
  PIDS=()
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    # Each service was started in its own process group (setsid), so its children go too.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
  if [ "$KEEP_TMP" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}

# start <name> <command...>: runs a service in its own session (pid in LAST_PID), output to
# $TMP/<name>.log (stdout too, unless START_STDOUT names another file).
start() {
  local name="$1"
  shift
  if [ -n "${START_STDOUT:-}" ]; then
    setsid "$@" >"$START_STDOUT" 2>"$TMP/$name.log" </dev/null &
  else
    setsid "$@" >"$TMP/$name.log" 2>&1 </dev/null &
  fi
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# wait_http <url> <seconds> <pid>: waits for any HTTP answer; fails early if the process died
wait_http() {
  local url="$1" deadline=$((SECONDS + $2)) pid="$3"
  while ((SECONDS < deadline)); do
    if curl -s -o /dev/null --max-time 1 "$url"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# free_ports <n>: n free loopback ports in PORTS, from the kernel (bind to port 0) in one deno
# call; a tiny race is acceptable on loopback.
free_ports() {
  # shellcheck disable=SC2034 # PORTS is read by the sourcing script
  mapfile -t PORTS < <(deno eval --quiet "
    const ls = Array.from({ length: $1 }, () => Deno.listen({ hostname: '127.0.0.1', port: 0 }));
    for (const l of ls) console.log(l.addr.port);
    for (const l of ls) l.close();")
}
