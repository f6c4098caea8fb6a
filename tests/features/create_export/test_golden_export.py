"""Every file of a 2,000-event export, parsed, against a fingerprint taken before the performance work.

`tests/fixtures/export_golden.json` was written by the code of the issue's base (`6c29e9a`'s export
slice, at this branch's start) from this very export: the demo asset (2,292 documents, broken ones
among them) plus documents that share a start (ObjectId and text ids mixed, and a start the repair
moves), every format of every data type, selects in every format, the prompt and the instructions.
Each file is fingerprinted by what a reader gets out of it (`fingerprint`): the text files by their
bytes (the strictest parse: any change of content shows), xlsx by its cells, the manifest by what it
says minus the moments and ids of the run. So a faster catalog read (no database sort), a cheaper
document conversion, shared frame tables or another zip level can change nothing a reader sees.

SRT is left out: its layout changed on purpose (issue 14, non-overlapping cues; its own tests check
it). To rewrite the fixture after a deliberate change to a format: `GOLDEN_WRITE=1` and say why in
the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from bson import ObjectId

from tests.package_check import read_xlsx_rows
from tests.support import ALL_FORMATS, wait_until_finished, work_order
from tools.demo_asset import load_demo_asset

GOLDEN = Path(__file__).parents[2] / "fixtures" / "export_golden.json"
CHANGED_ON_PURPOSE = {".srt"}


def tie_documents() -> list[dict[str, Any]]:
    """Documents whose order only the tie-break decides: same start, ids of both kinds."""
    base = {"repoGuid": "demo-repo", "fullPath": "/demo/interview.mov"}
    documents = []
    for number in range(6):
        for kind, event_type in (("oid", "face"), ("text", "comment"), ("oid", "marker"), ("text", "transcript")):
            identifier: Any = ObjectId(f"{0xABC000 + number * 8 + len(documents) % 8:024x}")
            if kind == "text":
                identifier = f"tie-{number}-{event_type}"
            documents.append(
                {
                    **base,
                    "_id": identifier,
                    "sdnaEventType": event_type,
                    "eventValue": f"tie {number} {event_type}",
                    "start": 100.0 + number,
                    "end": 101.5 + number,
                }
            )
    # A negative start is clamped to 0: the repair moves it ahead of documents the database sorted first.
    face = {**base, "sdnaEventType": "face"}
    documents.append({**face, "_id": "tie-negative", "eventValue": "x", "start": -2.0, "end": 3})
    documents.append({**face, "_id": "tie-zero", "eventValue": "y", "start": 0, "end": 1})
    return documents


def fingerprint(folder: Path, spark_id: str, manifest: dict[str, Any]) -> dict[str, Any]:
    prints: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if not path.is_file() or path.suffix in CHANGED_ON_PURPOSE or relative in ("manifest.json", f"{spark_id}.zip"):
            continue
        if path.suffix == ".xlsx":
            content = json.dumps(read_xlsx_rows(path), ensure_ascii=False, default=str).encode()
        else:
            content = path.read_bytes().replace(spark_id.encode(), b"SPARK_ID")
            if path.name.endswith("llm_instructions.md"):  # its moment, and the SRTs' cue counts, aside
                lines = content.split(b"\n")
                content = b"\n".join(line for line in lines if b"made " not in line and b".srt`" not in line)
        prints[relative] = hashlib.sha256(content).hexdigest()
    prints["manifest"] = {
        "counts": manifest["counts"],
        "warnings": manifest["warnings"],
        "artifacts": [
            [entry["path"], entry["items"], entry.get("segments")]
            for entry in manifest["artifacts"]
            if Path(entry["path"]).suffix not in CHANGED_ON_PURPOSE
        ],
    }
    return prints


async def test_every_format_reads_as_before_the_performance_work(client, catalog, settings) -> None:
    await load_demo_asset(catalog)
    await catalog.insert_many(tie_documents())
    order = work_order(ALL_FORMATS, user_inputs={"prompt": "Find the strongest answers.", "llm_instructions": True})
    order["outputs"]["selects"] = {"enabled": True, "formats": ["edl", "fcpxml", "xmeml", "otio"]}
    response = await client.post("/spark", json=order)
    assert response.status_code == 202, response.text
    spark_id = response.json()["spark_id"]
    status = await wait_until_finished(client, response.json()["links"]["status"], within=120)
    job = (await client.get(f"/spark/{spark_id}")).json()
    assert status["status"] == "completed", job.get("errors")
    folder = settings.export_base_path / spark_id
    actual = fingerprint(folder, spark_id, job["manifest"])
    with zipfile.ZipFile(folder / f"{spark_id}.zip") as archive:
        files = [path for path in folder.rglob("*") if path.is_file() and path.suffix != ".zip"]
        assert sorted(archive.namelist()) == sorted(path.relative_to(folder).as_posix() for path in files)
    if os.environ.get("GOLDEN_WRITE"):
        GOLDEN.write_text(json.dumps(actual, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(actual) == sorted(expected)
    for name in expected:
        assert actual[name] == expected[name], name
