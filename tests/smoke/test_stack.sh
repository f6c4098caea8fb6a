#!/usr/bin/env bash
# shellcheck disable=SC2016  # $names in single quotes are jq variables, not shell ones
# Smoke test of the whole stack with curl and jq only: the `make run` stack (tools/dev_stack.py:
# embedded FerretDB, demo asset, Fabric stub, the API) started in the background with API keys on,
#   1. health, and 401 problem+json without a key and with a wrong one;
#   2. an export of the demo asset with every format for every data type, selects, a prompt and LLM
#      instructions, polled to `completed`; manifest, one artifact and the zip's file list checked;
#   3. an import of 1,200 highlights (3 batches of 500) polled to its end and checked against what
#      the Fabric stub received (batches, Idempotency-Keys, every highlight once, apiKey, no secrets);
#   4. a bad work order answered 422 problem+json with pointers, nothing stored;
# then the stack is stopped and no process of it may be left. Any failure exits non-zero.
#
#   bash tests/smoke/test_stack.sh          (SMOKE_KEEP=1 keeps the temporary folder)
set -euo pipefail
# shellcheck source=tests/smoke/_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/_lib.sh"

REPO=demo-repo
ASSET=/demo/interview.mov
FORMATS='["json","csv","xlsx","srt","vtt","edl","fcpxml","xmeml","otio","avid"]'
SELECT_FORMATS='["edl","fcpxml","xmeml","otio"]'
EXTENSIONS='{"json":"json","csv":"csv","xlsx":"xlsx","srt":"srt","vtt":"vtt","edl":"edl","fcpxml":"fcpxml","xmeml":"xml","otio":"otio","avid":"txt"}'
HIGHLIGHTS=1200
BATCH_SIZE=500  # FABRIC_IMPORT_BATCH_SIZE set by _lib.sh
EXPORT_TIMEOUT=${EXPORT_TIMEOUT:-180}
IMPORT_TIMEOUT=${IMPORT_TIMEOUT:-120}

stack_start
W="$STACK_TMP/work"
mkdir -p "$W"

# --- 1. health and keys -----------------------------------------------------------------------------

step "GET /health (open without a key)"
got=$(call GET "$API/health" "$W/health.json")
expect_status "$got" 200 application/json "GET /health without a key" "$W/health.json"
expect_jq "$W/health.json" '.status == "ok"' "health status ok"
expect_jq "$W/health.json" '.checks | has("mongodb") and has("fabric_catalog") and has("fabric_api") and has("worker")' \
  "health names mongodb, fabric_catalog, fabric_api and worker"

step "401 problem+json without a key and with a wrong key"
got=$(call GET "$API/spark?repo_guid=$REPO&limit=1" "$W/401a.json")
expect_status "$got" 401 application/problem+json "GET /spark without X-API-Key" "$W/401a.json"
expect_jq "$W/401a.json" '.status == 401 and (.title | type == "string") and (.type | type == "string")' \
  "problem+json fields (type, title, status)"
got=$(call GET "$API/spark?repo_guid=$REPO&limit=1" "$W/401b.json" -H "X-API-Key: wrong-$API_KEY")
expect_status "$got" 401 application/problem+json "GET /spark with a wrong X-API-Key" "$W/401b.json"
got=$(call POST "$API/spark/import" "$W/401c.json" -H 'Content-Type: application/json' -d '{}')
expect_status "$got" 401 application/problem+json "POST /spark/import without a key" "$W/401c.json"
got=$(api GET "/spark?repo_guid=$REPO&limit=1" "$W/200.json")
expect_status "$got" 200 application/json "GET /spark with the key" "$W/200.json"

# --- 2. export -----------------------------------------------------------------------------------------

step "POST /spark: every format for every data type, selects, prompt, LLM instructions"
jq -n --arg repo "$REPO" --arg path "$ASSET" --argjson all "$FORMATS" --argjson sel "$SELECT_FORMATS" '{
  repo_guid: $repo,
  inputs: {full_path: $path},
  user_inputs: {prompt: "Find the three strongest answers.", llm_instructions: true},
  outputs: {
    transcript: {formats: $all}, events: {formats: $all}, comments: {formats: $all}, markers: {formats: $all},
    selects: {enabled: true, formats: $sel}
  },
  media: {frame_rate: "24000/1001", start_timecode: "01:00:00:00"}
}' >"$W/work_order.json"
got=$(api POST /spark "$W/export.json" -H 'Content-Type: application/json' --data-binary "@$W/work_order.json" \
  -D "$W/export.headers")
expect_status "$got" 202 application/json "POST /spark" "$W/export.json"
SPARK=$(jq -r .spark_id "$W/export.json")
[[ "$SPARK" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] ||
  fail "spark_id is not a UUID4: $SPARK"
grep -qi "^location: /spark/$SPARK" "$W/export.headers" || fail "no 'Location: /spark/$SPARK' in: $(cat "$W/export.headers")"
ok "spark_id $SPARK, Location /spark/$SPARK"

step "poll GET /spark/$SPARK/status until completed"
poll_status "/spark/$SPARK/status" 'completed|failed|cancelled' "$EXPORT_TIMEOUT" "$W/export_status.json"
expect_jq "$W/export_status.json" '.status == "completed"' "export completed (not failed or cancelled)"
expect_jq "$W/export_status.json" '.progress.percent == 100 and (.completed_at | test("Z$"))' \
  "progress 100 %, completed_at in UTC"

step "GET /spark/$SPARK: the manifest"
got=$(api GET "/spark/$SPARK" "$W/job.json")
expect_status "$got" 200 application/json "GET /spark/$SPARK" "$W/job.json"
jq .manifest "$W/job.json" >"$W/manifest.json"
expect_jq "$W/manifest.json" --arg id "$SPARK" --arg repo "$REPO" --arg path "$ASSET" \
  '.spark_id == $id and .repo_guid == $repo and .full_path == $path and .frame_rate == "24000/1001"
   and .start_timecode == "01:00:00:00"' "manifest: id, asset, frame rate, start timecode"
expect_jq "$W/manifest.json" --argjson all "$FORMATS" \
  '[.artifacts[] | [.artifact_type, .format]] as $have
   | all(("transcript", "events", "comments", "markers") as $t | $all[] as $f | [$t, $f]; . as $p | $have | index([$p]))' \
  "an artifact for each of the 4 data types x 10 formats"
expect_jq "$W/manifest.json" --argjson sel "$SELECT_FORMATS" \
  '[.artifacts[] | select(.artifact_type == "selects") | .format] | unique == ($sel | sort)' \
  "selects in edl, fcpxml, xmeml, otio"
expect_jq "$W/manifest.json" \
  '[.artifacts[].path] | index(["sdna_ai_spark_grounding.txt"]) and index(["sdna_ai_spark_llm_instructions.md"])' \
  "grounding prompt and LLM instructions"
expect_jq "$W/manifest.json" --argjson ext "$EXTENSIONS" \
  'all(.artifacts[] | select(.artifact_type | IN("transcript", "events", "comments", "markers"));
       . as $a | $a.path | startswith($a.artifact_type + "/"))
   and all(.artifacts[] | select(.artifact_type | IN("transcript", "events", "comments", "markers", "selects"));
       .path | test("^[a-z]+/sdna_ai_spark_[a-z]+(_part[0-9]+)?\\.[a-z]+$"))
   and all(.artifacts[] | select(.artifact_type | IN("transcript", "events", "comments", "markers", "selects"));
       (.path | split(".") | last) == $ext[.format])' \
  "artifact paths and extensions as SPEC §5 names them"
expect_jq "$W/manifest.json" --arg id "$SPARK" \
  'all(.artifacts[]; (.sha256 | test("^[0-9a-f]{64}$")) and .size > 0 and .url == "/spark/\($id)/artifacts/\(.path)")' \
  "every artifact has a sha256, a size and its API url"
expect_jq "$W/manifest.json" '.counts.transcript > 0 and .counts.events > 0 and .counts.comments > 0
  and .counts.markers > 0 and .counts.selects > 0' "counts of every data type and of selects"
ok "$(jq '.artifacts | length' "$W/manifest.json") artifacts, $(jq '.warnings | length' "$W/manifest.json") warnings"

step "GET /spark/$SPARK/artifacts/comments/sdna_ai_spark_comments.srt: sha256 as in the manifest"
artifact=comments/sdna_ai_spark_comments.srt
got=$(api GET "/spark/$SPARK/artifacts/$artifact" "$W/one.srt")
expect_status "$got" 200 "" "GET /spark/$SPARK/artifacts/$artifact" "$W/one.srt"
want=$(jq -r --arg p "$artifact" '.artifacts[] | select(.path == $p) | .sha256' "$W/manifest.json")
have=$(sha256sum "$W/one.srt" | cut -d' ' -f1)
if [ -z "$want" ] || [ "$want" != "$have" ]; then fail "sha256 of $artifact: manifest '$want', downloaded '$have'"; fi
ok "sha256 $have"
head -n 4 "$W/one.srt" | sed 's/^/   | /'

step "artifact paths out of the package folder: 404 problem+json (SPEC §3)"
for bad in '../../../../etc/passwd' "../$SPARK/manifest.json" '%2e%2e/%2e%2e/%2e%2e/etc/passwd' \
  '..%2f..%2f..%2fetc%2fpasswd' '%252e%252e%252fetc%252fpasswd' '/etc/passwd' 'comments/../../../etc/passwd' \
  'comments/%2e%2e/%2e%2e/%2e%2e/etc/passwd' 'no/such/file.txt'; do
  # --path-as-is: curl must send the dots as they are, not resolve them itself.
  got=$(api GET "/spark/$SPARK/artifacts/$bad" "$W/traversal.json" --path-as-is)
  expect_status "$got" 404 application/problem+json "GET /spark/$SPARK/artifacts/$bad" "$W/traversal.json"
done

step "GET /spark/$SPARK/package: the zip's files are the manifest's artifacts plus manifest.json"
got=$(api GET "/spark/$SPARK/package" "$W/package.zip" -D "$W/package.headers")
expect_status "$got" 200 application/zip "GET /spark/$SPARK/package" "$W/package.zip"
grep -qi '^content-disposition: attachment' "$W/package.headers" ||
  fail "no 'Content-Disposition: attachment': $(cat "$W/package.headers")"
unzip -tq "$W/package.zip" >/dev/null || fail "the zip does not test clean: $(unzip -t "$W/package.zip" | tail -5)"
unzip -Z1 "$W/package.zip" | grep -v '/$' | LC_ALL=C sort >"$W/zip_files.txt"
{
  jq -r '.artifacts[].path' "$W/manifest.json"
  echo manifest.json
} | LC_ALL=C sort >"$W/expected_files.txt"
if ! diff -u "$W/expected_files.txt" "$W/zip_files.txt" >"$W/files.diff"; then
  fail "zip file list differs from the manifest (- manifest, + zip):
$(cat "$W/files.diff")"
fi
ok "$(wc -l <"$W/zip_files.txt") files, as listed"
unzip -l "$W/package.zip" | tail -n 1 | sed 's/^/   | /'
mkdir -p "$W/unzipped"
unzip -q "$W/package.zip" -d "$W/unzipped"
jq -r '.artifacts[] | "\(.sha256)  \(.path)"' "$W/manifest.json" >"$W/sha256sums.txt"
(cd "$W/unzipped" && sha256sum --quiet -c "$W/sha256sums.txt") ||
  fail "files in the zip do not match the manifest's sha256"
ok "every file in the zip has the manifest's sha256"
expect_jq "$W/unzipped/manifest.json" --slurpfile m "$W/manifest.json" '.spark_id == $m[0].spark_id
  and (.artifacts | length) == ($m[0].artifacts | length)' "manifest.json in the zip is the job's manifest"

step "GET /spark?repo_guid=$REPO lists the export"
got=$(api GET "/spark?repo_guid=$REPO&limit=5" "$W/list.json")
expect_status "$got" 200 application/json "GET /spark?repo_guid=$REPO" "$W/list.json"
expect_jq "$W/list.json" --arg id "$SPARK" '.total >= 1 and ([.jobs[].spark_id] | index([$id]))' "export listed"

# --- 3. import -----------------------------------------------------------------------------------------

step "POST /spark/import: $HIGHLIGHTS highlights (batches of $BATCH_SIZE)"
curl -sS --max-time 10 -X DELETE "$STUB/_stub/received" >/dev/null || fail "could not reset the stub at $STUB"
jq -n --arg repo "$REPO" --arg path "$ASSET" --argjson n "$HIGHLIGHTS" '{
  schemaVersion: "sdna.spark.import.v1",
  asset: {repo_guid: $repo, fullPath: $path},
  tag: "smoke",
  import_job_name: "curl smoke test",
  highlights: [range(0; $n) | {
    comment: "smoke highlight \(.) – «naïve» \"quotes\", commas, -->",
    start: (. * 0.5), end: (. * 0.5 + 0.25),
    confidenceScore: ((. % 100) + 0.5),
    eventMeta: {associatedEventIds: ["smoke-\(.)"]}
  }]
}' >"$W/import_doc.json"
got=$(api POST /spark/import "$W/import.json" -H 'Content-Type: application/json' \
  --data-binary "@$W/import_doc.json" -D "$W/import.headers")
expect_status "$got" 202 application/json "POST /spark/import" "$W/import.json"
IMPORT=$(jq -r .import_id "$W/import.json")
[[ "$IMPORT" =~ ^[0-9a-f-]{36}$ ]] || fail "import_id is not a UUID: $IMPORT"
grep -qi "^location: /spark/import/$IMPORT" "$W/import.headers" || fail "no Location: $(cat "$W/import.headers")"
expect_jq "$W/import.json" --argjson n "$HIGHLIGHTS" '.items_total == $n and .batches == 3' \
  "items_total $HIGHLIGHTS in 3 batches"

step "poll GET /spark/import/$IMPORT/status to its end"
poll_status "/spark/import/$IMPORT/status" 'completed|partially_completed|failed|cancelled' "$IMPORT_TIMEOUT" \
  "$W/import_status.json"
expect_jq "$W/import_status.json" --argjson n "$HIGHLIGHTS" \
  '.status == "completed" and .items_total == $n and .items_created == $n and .items_failed == 0 and .error == null' \
  "import completed: $HIGHLIGHTS created, 0 failed"
got=$(api GET "/spark/import/$IMPORT" "$W/import_job.json")
expect_status "$got" 200 application/json "GET /spark/import/$IMPORT" "$W/import_job.json"
expect_jq "$W/import_job.json" \
  '[.batches[] | [.index, .items, .status]] == [[0, 500, "accepted"], [1, 500, "accepted"], [2, 200, "accepted"]]' \
  "batches 0..2 of 500, 500, 200 items, all accepted"

step "what the Fabric stub received (GET $STUB/_stub/received)"
curl -sS --max-time 10 -o "$W/received.json" "$STUB/_stub/received" || fail "could not read the stub's record"
jq --arg id "$IMPORT" '[.[] | select((.idempotency_key // "") | startswith($id + ":"))]' "$W/received.json" \
  >"$W/calls.json"
expect_jq "$W/received.json" 'length == 3' "3 calls in all"
expect_jq "$W/calls.json" 'length == 3' "3 calls for this import"
expect_jq "$W/calls.json" 'all(.[]; .method == "POST" and .path == "/catalogs/aiEnrichedMetadata/insights/llm/add" and .status == 200)' \
  "every call POST .../insights/llm/add answered 200"
expect_jq "$W/calls.json" --arg id "$IMPORT" '[.[].idempotency_key] | sort == ["\($id):0", "\($id):1", "\($id):2"]' \
  "Idempotency-Key $IMPORT:0..2"
expect_jq "$W/calls.json" 'all(.[]; .api_key_present and .api_key_ok and .headers.apikey == "***")' \
  "apiKey header sent and accepted"
expect_jq "$W/calls.json" --arg repo "$REPO" --arg path "$ASSET" \
  'all(.[]; .body.repoGuid == $repo and .body.fullPath == $path and .body.fileName == "interview.mov" and .body.tag == "smoke")' \
  "repoGuid, fullPath, fileName, tag in every body"
expect_jq "$W/calls.json" '[.[] | .body.insightEvents | length] | sort == [200, 500, 500]' \
  "batch sizes 500, 500, 200"
jq '[.highlights[] | {insight: .comment, start: .start, end: .end, confidenceScore: .confidenceScore, eventMeta: .eventMeta}] | sort_by(.start)' \
  "$W/import_doc.json" >"$W/sent_events.json"
jq '[.[].body.insightEvents[]] | sort_by(.start)' "$W/calls.json" >"$W/received_events.json"
expect_jq "$W/received_events.json" --slurpfile sent "$W/sent_events.json" '. == $sent[0]' \
  "every highlight received exactly once, text, times, confidence and event ids intact"
expect_jq "$W/received_events.json" --argjson n "$HIGHLIGHTS" '[.[].insight] | unique | length == $n' \
  "$HIGHLIGHTS distinct insight texts"
for secret in "$FABRIC_KEY" "$API_KEY"; do
  if grep -qF -- "$secret" "$W/received.json"; then fail "a key is in the stub's record"; fi
done
ok "neither FABRIC_API_KEY nor the API key is in the stub's record"

# --- 4. a bad work order ---------------------------------------------------------------------------

step "POST /spark with an invalid work order: 422 problem+json, every error with a pointer, nothing stored"
BAD_REPO="smoke-invalid-$(random_hex 4)"
jq -n --arg repo "$BAD_REPO" '{
  repo_guid: $repo,
  inputs: {full_path: "/demo/interview.mov"},
  outputs: {events: {formats: ["mp4", "json"]}, selects: {enabled: true, handle_seconds: 99}},
  media: {frame_rate: "fast"},
  typo_field: 1
}' >"$W/bad_order.json"
got=$(api POST /spark "$W/bad.json" -H 'Content-Type: application/json' --data-binary "@$W/bad_order.json")
expect_status "$got" 422 application/problem+json "POST /spark with an invalid work order" "$W/bad.json"
expect_jq "$W/bad.json" '.status == 422 and (.type | type == "string") and (.title | type == "string")
  and (.detail | type == "string")' "problem+json fields (type, title, status, detail)"
expect_jq "$W/bad.json" '(.errors | type == "array" and length >= 4)
  and all(.errors[]; (.pointer | type == "string" and startswith("/")) and (.message | type == "string"))' \
  "errors[] each with a JSON pointer and a message"
expect_jq "$W/bad.json" '[.errors[].pointer] as $p | all("/outputs/events/formats/0", "/outputs/selects/handle_seconds",
  "/media/frame_rate", "/typo_field"; . as $want | $p | index([$want]))' \
  "pointers name every problem: /outputs/events/formats/0, /outputs/selects/handle_seconds, /media/frame_rate, /typo_field"
jq -r '.errors[] | "   | \(.pointer): \(.message)"' "$W/bad.json"
got=$(api GET "/spark?repo_guid=$BAD_REPO" "$W/bad_list.json")
expect_status "$got" 200 application/json "GET /spark?repo_guid=$BAD_REPO" "$W/bad_list.json"
expect_jq "$W/bad_list.json" '.total == 0 and (.jobs | length) == 0' "nothing stored"

got=$(api POST /spark/import "$W/bad_import.json" -H 'Content-Type: application/json' \
  -d '{"schemaVersion": "sdna.spark.import.v1", "asset": {"repo_guid": "", "fullPath": "/x"}, "highlights": [{"comment": "", "start": 5, "end": 1}]}')
expect_status "$got" 422 application/problem+json "POST /spark/import with an invalid document" "$W/bad_import.json"
expect_jq "$W/bad_import.json" '[.errors[].pointer] as $p | ($p | index(["/asset/repo_guid"])) and ($p | index(["/highlights/0/comment"]))' \
  "pointers /asset/repo_guid and /highlights/0/comment"

# --- 5. no secret in the logs, then stop ---------------------------------------------------------------

step "the stack's log: no key, no error"
for secret in "$FABRIC_KEY" "$API_KEY"; do
  if grep -qF -- "$secret" "$STACK_LOG"; then fail "a key appears in the stack's log $STACK_LOG"; fi
done
ok "neither key in $(wc -l <"$STACK_LOG") log lines"
# Everything above was a happy path: an ERROR line or a traceback is a defect even when the API's
# answers looked right (e.g. a job that finished, then crashed while logging).
if grep -nE '"level": "(ERROR|CRITICAL)"|Traceback \(most recent call last\)' "$STACK_LOG" >"$W/errors.txt"; then
  fail "errors in the stack's log:
$(cut -c1-400 "$W/errors.txt" | head -n 10)
$(grep -m1 -E '"level": "(ERROR|CRITICAL)"' "$STACK_LOG" | jq -r '.exc_info // empty' 2>/dev/null | tail -n 6)"
fi
ok "no ERROR line or traceback"

stack_stop || fail "the stack left processes behind"
