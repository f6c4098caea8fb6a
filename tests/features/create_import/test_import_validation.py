"""Every rule of SPEC §6 broken on its own: one 422 (or 413) problem naming it, and nothing stored."""

from __future__ import annotations

import copy
import json

import pytest

PROBLEM = "application/problem+json"
VALID = {
    "schemaVersion": "sdna.spark.import.v1",
    "asset": {"repo_guid": "demo-repo", "fullPath": "/demo/interview.mov"},
    "tag": "llm",
    "import_job_name": "first pass",
    "highlights": [
        {"comment": "good", "start": 1.0, "end": 2.0, "confidenceScore": 50, "eventMeta": {"associatedEventIds": []}},
        {"insight": "also good", "start": 3, "end": 4.5},
    ],
}


def broken(path: str, value=..., remove: bool = False) -> dict:
    document = copy.deepcopy(VALID)
    *parents, last = path.strip("/").split("/")
    target = document
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    key = int(last) if isinstance(target, list) else last
    if remove:
        del target[key]
    else:
        target[key] = value
    return document


CASES = [
    ("wrong schema version", broken("/schemaVersion", "sdna.spark.import.v2"), "/schemaVersion"),
    ("no schema version", broken("/schemaVersion", remove=True), "/schemaVersion"),
    ("no asset", broken("/asset", remove=True), "/asset"),
    ("empty repo_guid", broken("/asset/repo_guid", ""), "/asset/repo_guid"),
    ("long repo_guid", broken("/asset/repo_guid", "r" * 256), "/asset/repo_guid"),
    ("empty fullPath", broken("/asset/fullPath", ""), "/asset/fullPath"),
    ("long fullPath", broken("/asset/fullPath", "/" * 4097), "/asset/fullPath"),
    ("long tag", broken("/tag", "t" * 101), "/tag"),
    ("long job name", broken("/import_job_name", "n" * 256), "/import_job_name"),
    ("no highlights", broken("/highlights", remove=True), "/highlights"),
    ("empty highlights", broken("/highlights", []), "/highlights"),
    ("10,001 highlights", broken("/highlights", [{"comment": "x", "start": 0, "end": 1}] * 10_001), "/highlights"),
    ("no comment or insight", broken("/highlights/0/comment", remove=True), "/highlights/0/comment"),
    ("comment and insight", broken("/highlights/1/comment", "both"), "/highlights/1/insight"),
    ("empty comment", broken("/highlights/0/comment", ""), "/highlights/0/comment"),
    ("long comment", broken("/highlights/0/comment", "c" * 10_001), "/highlights/0/comment"),
    ("negative start", broken("/highlights/0/start", -0.5), "/highlights/0/start"),
    ("end equal to start", broken("/highlights/0/end", 1.0), "/highlights/0/end"),
    ("end before start", broken("/highlights/0/end", 0.5), "/highlights/0/end"),
    ("start as a string", broken("/highlights/0/start", "1.0"), "/highlights/0/start"),
    ("confidence over 100", broken("/highlights/0/confidenceScore", 100.5), "/highlights/0/confidenceScore"),
    ("confidence under 0", broken("/highlights/0/confidenceScore", -1), "/highlights/0/confidenceScore"),
    (
        "ids not a list",
        broken("/highlights/0/eventMeta/associatedEventIds", "evt-1"),
        "/highlights/0/eventMeta/associatedEventIds",
    ),
    ("unknown top field", broken("/colour", "red"), "/colour"),
    ("unknown highlight field", broken("/highlights/0/colour", "red"), "/highlights/0/colour"),
    ("unknown meta field", broken("/highlights/0/eventMeta/extra", 1), "/highlights/0/eventMeta/extra"),
]


async def stored_jobs(client) -> int:
    return (await client.get("/spark/import", params={"repo_guid": "demo-repo"})).json()["total"]


@pytest.mark.parametrize(("name", "body", "pointer"), CASES, ids=[case[0] for case in CASES])
async def test_each_rule_broken_alone_is_named(client, name, body, pointer) -> None:
    response = await client.post("/spark/import", json=body)
    upload = await client.post("/spark/import/file", files={"file": ("doc.json", json.dumps(body).encode())})

    for answer in (response, upload):
        assert answer.status_code == 422, (name, answer.text)
        assert answer.headers["content-type"].startswith(PROBLEM)
        assert pointer in [error["pointer"] for error in answer.json()["errors"]], answer.json()["errors"]
    assert await stored_jobs(client) == 0


async def test_every_violation_is_listed_at_once(client) -> None:
    body = broken("/schemaVersion", "v0")
    body["highlights"][0]["end"] = 0
    body["highlights"][1]["confidenceScore"] = 200
    body["extra"] = True
    response = await client.post("/spark/import", json=body)

    pointers = {error["pointer"] for error in response.json()["errors"]}
    assert {"/schemaVersion", "/highlights/0/end", "/highlights/1/confidenceScore", "/extra"} <= pointers


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
async def test_nan_and_infinity_are_refused(client, constant) -> None:
    text = json.dumps(VALID).replace('"start": 1.0', f'"start": {constant}')
    response = await client.post("/spark/import", content=text, headers={"content-type": "application/json"})
    upload = await client.post("/spark/import/file", files={"file": ("doc.json", text.encode())})

    assert response.status_code == 422
    assert "/highlights/0/start" in [error["pointer"] for error in response.json()["errors"]]
    assert upload.status_code == 422
    assert constant.lstrip("-") in upload.json()["errors"][0]["message"]
    assert await stored_jobs(client) == 0


async def test_a_file_that_is_not_utf8_says_so(client) -> None:
    raw = json.dumps(VALID).replace("good", "gr\u00fcn").encode("latin-1")
    response = await client.post("/spark/import/file", files={"file": ("doc.json", raw)})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "not UTF-8" in response.json()["errors"][0]["message"]
    assert await stored_jobs(client) == 0


async def test_a_file_that_is_not_json_says_so(client) -> None:
    response = await client.post("/spark/import/file", files={"file": ("doc.json", b"highlights: yes")})
    assert response.status_code == 422
    assert "not JSON" in response.json()["errors"][0]["message"]


async def test_a_missing_file_field_is_named(client) -> None:
    response = await client.post("/spark/import/file", files={"document": ("doc.json", b"{}")})
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/file"


async def test_a_utf8_bom_is_accepted(client) -> None:
    response = await client.post(
        "/spark/import/file", files={"file": ("doc.json", b"\xef\xbb\xbf" + json.dumps(VALID).encode())}
    )
    assert response.status_code == 202, response.text
