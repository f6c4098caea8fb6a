#!/usr/bin/env bash
# Property-based fuzzing of the running API with Schemathesis (4.x), against its own /openapi.json.
#
# Starts the `make run` stack in the background exactly as the smoke test does (tests/smoke/_lib.sh:
# temporary data folder, free ports, API keys on), runs every phase (examples, coverage, fuzzing,
# stateful) over every operation with the key in `X-API-Key`, and fails on any of:
#   not_a_server_error            no 5xx, whatever the input
#   status_code_conformance       only statuses the schema documents
#   content_type_conformance      only the documented content types (problem+json for errors)
#   response_headers_conformance  documented response headers present and valid
#   response_schema_conformance   bodies valid against their documented schema
# Afterwards the service must still be healthy and its log free of ERROR lines and tracebacks (a
# background job that crashed never shows up as a 5xx). Bounded: FUZZ_MAX_EXAMPLES test cases per
# operation and phase (default 100), the whole run killed after FUZZ_TIMEOUT seconds (default 400).
#
#   bash tests/fuzz/run_schemathesis.sh          FUZZ_SEED=123 to replay a run; SMOKE_KEEP=1 keeps
#                                                the temporary folder (reports in <tmp>/schemathesis)
set -euo pipefail
# shellcheck source=tests/smoke/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../smoke/_lib.sh"

SCHEMATHESIS="$ROOT/.venv/bin/schemathesis"
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-100}
TIMEOUT=${FUZZ_TIMEOUT:-400}
WORKERS=${FUZZ_WORKERS:-2}
SEED=${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance

[ -x "$SCHEMATHESIS" ] || fail "no $SCHEMATHESIS: run 'make install' (schemathesis is a dev dependency)"
stack_start
REPORTS="$STACK_TMP/schemathesis"
mkdir -p "$REPORTS"

# Real ids and artifact names, so the id routes (cancel, artifacts, package, ...) are tested past their
# 404 too: a completed export, a second one (for cancel), an import. Schemathesis draws them for about
# half of the cases; the rest stay generated.
step "seeding: exports and an import to give the fuzzer real ids"
seed_export() {
  local body=$1 out=$2 got
  got=$(api POST /spark "$out" -H 'Content-Type: application/json' -d "$body")
  expect_status "$got" 202 application/json "POST /spark (seed)" "$out" >&2
  jq -r .spark_id "$out"
}
DONE_ID=$(seed_export '{"repo_guid": "demo-repo", "inputs": {"full_path": "/demo/interview.mov"},
  "outputs": {"comments": {"formats": ["json", "srt", "fcpxml"]}, "markers": {"formats": ["edl", "otio"]}},
  "user_inputs": {"prompt": "Seed.", "llm_instructions": true}}' "$STACK_TMP/seed_export.json")
poll_status "/spark/$DONE_ID/status" 'completed|failed|cancelled' 120 "$STACK_TMP/seed_status.json"
EMPTY_ID=$(seed_export '{"repo_guid": "fuzz-empty-repo", "inputs": {"full_path": "/nothing/here.mov"},
  "outputs": {"events": {"formats": ["csv"]}}}' "$STACK_TMP/seed_export2.json")
got=$(api POST /spark/import "$STACK_TMP/seed_import.json" -H 'Content-Type: application/json' \
  -d '{"schemaVersion": "sdna.spark.import.v1", "asset": {"repo_guid": "demo-repo", "fullPath": "/demo/interview.mov"},
       "highlights": [{"comment": "seed", "start": 1, "end": 2}]}')
expect_status "$got" 202 application/json "POST /spark/import (seed)" "$STACK_TMP/seed_import.json"
IMPORT_ID=$(jq -r .import_id "$STACK_TMP/seed_import.json")
got=$(api GET "/spark/$DONE_ID" "$STACK_TMP/seed_job.json")
expect_status "$got" 200 application/json "GET /spark/$DONE_ID (seed)" "$STACK_TMP/seed_job.json"
CONFIG="$STACK_TMP/schemathesis.toml"
{
  echo '[dictionaries.spark_ids]'
  printf 'values = ["%s", "%s"]\n' "$DONE_ID" "$EMPTY_ID"
  echo '[dictionaries.import_ids]'
  printf 'values = ["%s"]\n' "$IMPORT_ID"
  echo '[dictionaries.artifact_paths]'
  # The package's top-level files and dot names. Schemathesis keeps `/` out of a path parameter, so
  # nested files and `../` escapes are the smoke test's job (tests/smoke/test_stack.sh).
  jq -r '[(.manifest.artifacts[].path | select(contains("/") | not)), "manifest.json", "\(.spark_id).zip",
          "..", ".", "%2e%2e", "..%2f..%2fetc%2fpasswd"] | "values = \(tojson)"' "$STACK_TMP/seed_job.json"
  echo '[parameters]'
  echo '"path.spark_id" = { dictionary = "spark_ids", probability = 0.5 }'
  echo '"path.import_id" = { dictionary = "import_ids", probability = 0.5 }'
  echo '"path.path" = { dictionary = "artifact_paths", probability = 0.5 }'
} >"$CONFIG"
ok "completed export $DONE_ID, export $EMPTY_ID, import $IMPORT_ID, $(jq '.manifest.artifacts | length' "$STACK_TMP/seed_job.json") artifact paths -> $CONFIG"

step "schemathesis $("$SCHEMATHESIS" --version | awk '{print $NF}') on $API/openapi.json: seed $SEED, $MAX_EXAMPLES examples per operation, $WORKERS workers"
status=0
# Run from the temporary folder so Schemathesis' example database does not land in the repository.
(
  cd "$STACK_TMP"
  timeout --signal=INT --kill-after=30 "$TIMEOUT" "$SCHEMATHESIS" --config-file "$CONFIG" run "$API/openapi.json" \
    --header "X-API-Key: $API_KEY" \
    --checks "$CHECKS" \
    --max-examples "$MAX_EXAMPLES" \
    --continue-on-failure \
    --seed "$SEED" \
    --workers "$WORKERS" \
    --request-timeout 30 \
    --generation-database none \
    --suppress-health-check too_slow \
    --report junit,ndjson --report-dir "$REPORTS" \
    --no-color
) || status=$?
problems=()
if [ "$status" -eq 124 ] || [ "$status" -eq 130 ] || [ "$status" -eq 137 ]; then
  problems+=("schemathesis did not finish within $TIMEOUT s (FUZZ_TIMEOUT)")
elif [ "$status" -ne 0 ]; then
  problems+=("schemathesis found failures (exit $status): see FAILURES above; replay with FUZZ_SEED=$SEED")
else
  ok "schemathesis: no failures (seed $SEED)"
fi

# Checked whatever schemathesis said, so one run reports everything.
step "the service survived: /health and its log"
got=$(call GET "$API/health" "$STACK_TMP/health_after.json")
if [ "${got%% *}" = 200 ]; then ok "GET /health after fuzzing: 200"; else problems+=("GET /health after fuzzing: ${got:-no answer}"); fi
if grep -nE '"level": "(ERROR|CRITICAL)"|Traceback \(most recent call last\)' "$STACK_LOG" >"$STACK_TMP/errors.txt"; then
  problems+=("$(wc -l <"$STACK_TMP/errors.txt") ERROR lines or tracebacks in the stack's log, the first:
$(cut -c1-400 "$STACK_TMP/errors.txt" | head -n 5)")
else
  ok "no ERROR line or traceback in $(wc -l <"$STACK_LOG") log lines"
fi
leaked=0
for secret in "$FABRIC_KEY" "$API_KEY"; do grep -qF -- "$secret" "$STACK_LOG" && leaked=1; done
if [ "$leaked" = 1 ]; then problems+=("a key appears in the stack's log $STACK_LOG"); else ok "no key in the log"; fi

if [ ${#problems[@]} -gt 0 ]; then
  printf '\n* %s\n' "${problems[@]}" >&2
  fail "${#problems[@]} problem(s); schemathesis reports (JUnit, NDJSON) in $REPORTS"
fi

stack_stop || fail "the stack left processes behind"
