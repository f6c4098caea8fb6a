# shellcheck shell=bash
# Helpers for the smoke and fuzz scripts: start the `make run` stack (tools/dev_stack.py: embedded
# FerretDB, demo asset, Fabric stub, `python main.py`) in the background, isolated from a developer's
# `make run` and from other runs, and stop every process of it on exit.
#
#   source tests/smoke/_lib.sh
#   stack_start            # sets API, STUB, API_KEY, FABRIC_KEY, STACK_TMP, STACK_LOG; waits for /health
#   got=$(api GET "/spark?repo_guid=x" out.json)   # curl with the key; "<status> <content-type>"
#   expect_status "$got" 200 application/json "list" out.json; expect_jq out.json '.total >= 0' "total"
#
# Isolation: a temporary data folder (AI_SPARK_DATA_DIR) and three free ports (PORT,
# EMBEDDED_MONGODB_PORT, FABRIC_STUB_PORT), so it never touches `.data/` or port 8000. Everything the
# service reads is set here explicitly, so a developer's `.env` cannot point the run at another
# database or Fabric. The EXIT trap stops the stack with SIGTERM (as a supervisor would), waits for it,
# checks that none of its processes is left (killing and failing if one is), prints the end of the
# stack's log when the script failed, and removes the temporary folder: on failure all but `data/`
# is kept (the log, the responses, schemathesis' reports); SMOKE_KEEP=1 keeps everything.
#
# Files beginning with `_` in tests/smoke are not tests: `make smoke` skips them.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$ROOT/.venv/bin/python"
STACK_START_TIMEOUT=${STACK_START_TIMEOUT:-240}  # first run may build FerretDB (about a minute)
STACK_STOP_TIMEOUT=${STACK_STOP_TIMEOUT:-90}
STACK_PID=""
STACK_PIDS=()
STACK_TMP=""
STACK_LOG=""
_T0=$(date +%s)

step() { printf '\n-- [%3ss] %s\n' "$(($(date +%s) - _T0))" "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
fail() {
  printf '\nFAIL: %s\n' "$*" >&2
  exit 1
}

require_tools() {
  local tool missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
  [ ${#missing[@]} -eq 0 ] || fail "missing tools: ${missing[*]} (apt-get install -y ${missing[*]})"
  [ -x "$PY" ] || fail "no $PY: run 'make install' first"
}

random_hex() { od -An -N"${1:-16}" -tx1 /dev/urandom | tr -d ' \n'; }

# Three distinct free ports, held open together while they are chosen.
free_ports() {
  "$PY" - <<'EOF'
import socket
probes = [socket.socket() for _ in range(3)]
for probe in probes:
    probe.bind(("127.0.0.1", 0))
print(" ".join(str(probe.getsockname()[1]) for probe in probes))
for probe in probes:
    probe.close()
EOF
}

# call METHOD URL OUT_BODY [curl args...] -> prints "<status> <content-type>"; the body goes to OUT_BODY.
call() {
  local method=$1 url=$2 out=$3
  shift 3
  # On a connection error curl still prints "000 " for -w: the caller's status check says what failed.
  curl -sS --max-time "${CURL_TIMEOUT:-60}" -X "$method" -o "$out" -w '%{http_code} %{content_type}' "$@" "$url" ||
    true
}

# api METHOD PATH OUT_BODY [curl args...]: `call` against the API with the key.
api() {
  local method=$1 path=$2 out=$3
  shift 3
  call "$method" "$API$path" "$out" -H "X-API-Key: $API_KEY" "$@"
}

# expect_status "<status> <content-type>" STATUS [CONTENT_TYPE_PREFIX] DESCRIPTION BODY_FILE
expect_status() {
  local got=$1 status=$2 type=$3 what=$4 body=$5
  local got_status=${got%% *} got_type=${got#* }
  if [ "$got_status" != "$status" ]; then
    fail "$what: expected HTTP $status, got $got_status ($got_type): $(head -c 2000 "$body" 2>/dev/null)"
  fi
  if [ -n "$type" ] && [[ "$got_type" != "$type"* ]]; then
    fail "$what: expected Content-Type $type, got '$got_type': $(head -c 500 "$body" 2>/dev/null)"
  fi
  ok "$what: $got_status ${got_type:-}"
}

# expect_jq FILE [jq args...] FILTER DESCRIPTION: the filter must yield true.
expect_jq() {
  local file=$1
  shift
  local args=("${@:1:$#-2}") filter=${*:$#-1:1} what=${*:$#:1}
  if ! jq -e "${args[@]}" "$filter" "$file" >/dev/null; then
    fail "$what: jq '$filter' is not true for $file: $(head -c 2000 "$file")"
  fi
  ok "$what"
}

# poll_status PATH FIELD_FINAL_REGEX TIMEOUT OUT_BODY: GET PATH until .status matches, or fail.
poll_status() {
  local path=$1 final=$2 timeout=$3 out=$4 deadline status got
  deadline=$(($(date +%s) + timeout))
  while :; do
    got=$(api GET "$path" "$out")
    [ "${got%% *}" = 200 ] || fail "GET $path: HTTP ${got%% *}: $(head -c 1000 "$out")"
    status=$(jq -r .status "$out")
    if [[ "$status" =~ ^($final)$ ]]; then
      ok "GET $path: $status after $((timeout - deadline + $(date +%s))) s"
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      fail "GET $path: still '$status' after $timeout s (waiting for $final): $(cat "$out")"
    fi
    sleep 0.3
  done
}

stack_start() {
  require_tools curl jq unzip pgrep
  STACK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ai-spark-smoke.XXXXXX")
  STACK_LOG="$STACK_TMP/stack.log"
  trap stack_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local api_port db_port stub_port
  read -r api_port db_port stub_port < <(free_ports)
  API="http://127.0.0.1:$api_port"
  STUB="http://127.0.0.1:$stub_port"
  API_KEY="smoke-$(random_hex 16)"
  FABRIC_KEY="fabric-$(random_hex 16)"
  step "starting the stack (tools/dev_stack.py) in $STACK_TMP: API $API, stub $STUB, database :$db_port"
  (
    cd "$ROOT" || exit 1
    # Empty MONGODB_URL and FABRIC_API_URL override any .env: dev_stack starts its own database and
    # stub and hands their URLs to the service.
    # A session of its own (setsid execs in place: a background job is no group leader), so a
    # terminal's Ctrl-C reaches only this script, whose trap stops the stack in order.
    exec setsid env \
      AI_SPARK_DATA_DIR="$STACK_TMP/data" EMBEDDED_MONGODB_PORT="$db_port" FABRIC_STUB_PORT="$stub_port" \
      MONGODB_URL="" FABRIC_API_URL="" FABRIC_MONGODB_URL="mongodb://127.0.0.1:$db_port/" \
      FABRIC_CATALOG_DB=ApiDNA MONGODB_DB_NAME=ai_spark_db FABRIC_API_KEY="$FABRIC_KEY" \
      FABRIC_IMPORT_BATCH_SIZE=500 FABRIC_MAX_RETRIES=5 MEDIA_ROOTS="" \
      EXPORT_BASE_PATH="$STACK_TMP/data/exports" IMPORT_BASE_PATH="$STACK_TMP/data/imports" \
      API_KEYS="$API_KEY" ENVIRONMENT=test LOG_LEVEL=INFO HOST=127.0.0.1 PORT="$api_port" WORKERS=1 \
      SHUTDOWN_GRACE_SECONDS=3 \
      "$PY" -m tools.dev_stack
  ) >"$STACK_LOG" 2>&1 &
  STACK_PID=$!
  sleep 0.2
  grep -q tools.dev_stack "/proc/$STACK_PID/cmdline" 2>/dev/null ||
    kill -0 "$STACK_PID" 2>/dev/null || fail "the stack did not start: $(tail -n 20 "$STACK_LOG")"
  local deadline=$(($(date +%s) + STACK_START_TIMEOUT)) got
  while :; do
    kill -0 "$STACK_PID" 2>/dev/null || fail "the stack exited before /health answered 200"
    got=$(call GET "$API/health" "$STACK_TMP/health.json" --max-time 2 2>/dev/null) || true
    [ "${got%% *}" = 200 ] && break
    [ "$(date +%s)" -lt "$deadline" ] || fail "/health did not answer 200 within $STACK_START_TIMEOUT s (last: ${got:-no answer})"
    sleep 0.3
  done
  _collect_stack_pids
  ok "stack up in $(($(date +%s) - _T0)) s; processes: ${STACK_PIDS[*]}"
}

# dev_stack and every descendant (API, stub, FerretDB - which runs in a session of its own, but is
# still dev_stack's child).
_collect_stack_pids() {
  local queue=("$STACK_PID") pid child
  STACK_PIDS=()
  while [ ${#queue[@]} -gt 0 ]; do
    pid=${queue[0]}
    queue=("${queue[@]:1}")
    STACK_PIDS+=("$pid")
    for child in $(pgrep -P "$pid" || true); do queue+=("$child"); done
  done
}

# The pids of those given that are still running (a zombie, already dead, does not count).
_alive() {
  local pid state alive=()
  for pid in "$@"; do
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || continue
    [ -n "$state" ] && [ "$state" != Z ] && alive+=("$pid")
  done
  echo "${alive[*]}"
}

stack_stop() {
  [ -n "$STACK_PID" ] || return 0
  local pid=$STACK_PID left deadline
  if kill -0 "$pid" 2>/dev/null; then
    _collect_stack_pids  # again, in case the stack started something after stack_start
    step "stopping the stack (SIGTERM to dev_stack $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(($(date +%s) + STACK_STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
  fi
  if kill -0 "$pid" 2>/dev/null; then
    echo "dev_stack did not stop within $STACK_STOP_TIMEOUT s; killing ${STACK_PIDS[*]}" >&2
    kill -KILL "${STACK_PIDS[@]}" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  STACK_PID=""
  sleep 0.2
  left=$(_alive "${STACK_PIDS[@]}")
  if [ -z "$left" ] && [ -n "$STACK_TMP" ]; then
    # Anything at all still running from our temporary folder (FerretDB's command line names it).
    # shellcheck disable=SC2046
    left=$(_alive $(pgrep -f -- "$STACK_TMP" || true))
  fi
  if [ -n "$left" ]; then
    echo "processes left behind after stopping the stack: $left" >&2
    ps -o pid,ppid,args -p "${left// /,}" >&2 || true
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
    return 1
  fi
  ok "stack stopped, no process left (checked ${STACK_PIDS[*]})"
}

stack_log_tail() {
  [ -n "$STACK_LOG" ] && [ -f "$STACK_LOG" ] || return 0
  echo "----- last 60 lines of $STACK_LOG -----" >&2
  tail -n 60 "$STACK_LOG" >&2
  echo "----- end of log -----" >&2
}

stack_cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  trap '' INT TERM  # a second Ctrl-C must not cut the clean-up short
  [ "$status" -ne 0 ] && stack_log_tail
  if ! stack_stop; then
    echo "FAIL: the stack left processes behind" >&2
    [ "$status" -eq 0 ] && status=1
  fi
  if [ -n "$STACK_TMP" ] && [ -d "$STACK_TMP" ]; then
    if [ "${SMOKE_KEEP:-0}" = 1 ]; then
      echo "kept $STACK_TMP (stack log: $STACK_LOG)" >&2
    elif [ "$status" -ne 0 ]; then
      rm -rf "$STACK_TMP/data"  # the database and packages; SMOKE_KEEP=1 keeps them too
      echo "kept the log, responses and reports in $STACK_TMP (stack log: $STACK_LOG)" >&2
    else
      rm -rf "$STACK_TMP"
    fi
  fi
  printf '\n== %s %s in %s s\n' "$(basename "$0")" "$([ "$status" -eq 0 ] && echo passed || echo FAILED)" \
    "$(($(date +%s) - _T0))"
  exit "$status"
}
