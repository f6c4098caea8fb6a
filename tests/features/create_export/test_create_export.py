"""`POST /spark` end to end: a real database, the demo asset, real files read back independently."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from bson import ObjectId

from features.create_export import plan
from features.create_export.writers import SEGMENT_WRITERS, SegmentFormat
from tests.package_check import check_package
from tests.support import ALL_FORMATS, wait_until_finished, work_order
from tools.demo_asset import generate_demo_documents, load_demo_asset

PROBLEM = "application/problem+json"


@pytest.fixture
async def demo(catalog) -> int:
    return await load_demo_asset(catalog)


async def export(client: httpx.AsyncClient, order: dict, **headers: str) -> dict:
    response = await client.post("/spark", json=order, headers=headers)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/spark/{response.json()['spark_id']}"
    status = await wait_until_finished(client, response.json()["links"]["status"])
    job = (await client.get(response.headers["location"])).json()
    return {"status": status, "job": job, "id": response.json()["spark_id"]}


async def test_every_format_of_every_data_type_reads_back(client, demo, settings) -> None:
    order = work_order(
        user_inputs={"prompt": "Find the strongest answers.", "llm_instructions": True},
    )
    order["outputs"]["selects"] = {"enabled": True, "formats": ["edl", "fcpxml", "xmeml", "otio"]}

    result = await export(client, order)

    assert result["status"]["status"] == "completed", result["job"]["errors"]
    manifest = result["job"]["manifest"]
    folder = settings.export_base_path / result["id"]
    items = check_package(folder, manifest)
    expected_files = {
        f"{name}/sdna_ai_spark_{name}.{SEGMENT_WRITERS[fmt].extension}"
        for name in ("transcript", "events", "comments", "markers")
        for fmt in ALL_FORMATS
    }
    assert expected_files <= set(items)
    assert {"sdna_ai_spark_grounding.txt", "sdna_ai_spark_llm_instructions.md"} <= set(items)
    documents = generate_demo_documents()
    transcript_docs = [d for d in documents if d["sdnaEventType"] == "transcript"]
    # Two transcript documents are broken: the duplicate is skipped, the negative start is repaired.
    assert manifest["counts"]["transcript"] == len(transcript_docs) - 1
    assert items["transcript/sdna_ai_spark_transcript.json"] == manifest["counts"]["transcript"]
    assert items["transcript/sdna_ai_spark_transcript.fcpxml"] == manifest["counts"]["transcript"]
    assert manifest["counts"]["selects"] > 0
    assert manifest["frame_rate"] == "24000/1001" and manifest["start_timecode"] == "01:00:00:00"
    assert any("not a number" in warning for warning in manifest["warnings"])
    assert not list(settings.export_base_path.glob(".*")), "no build folder may be left behind"


async def test_the_json_holds_exactly_the_catalog_values(client, demo, settings) -> None:
    result = await export(client, work_order(["json"]))
    folder = settings.export_base_path / result["id"]
    exported = json.loads((folder / "comments/sdna_ai_spark_comments.json").read_text(encoding="utf-8"))

    stored = {str(d["_id"]): d for d in generate_demo_documents() if d["sdnaEventType"] in ("comment", "insight")}
    assert exported["repoGuid"] == "demo-repo" and exported["dataType"] == "comments"
    for segment in exported["segments"]:
        assert segment["eventValue"] == stored[segment["id"]]["eventValue"]
    starts = [segment["start"] for segment in exported["segments"]]
    assert starts == sorted(starts)


async def test_two_repositories_sharing_ids_and_paths_never_mix(client, catalog, settings) -> None:
    shared_path = "/shared/clip.mov"
    own_ids = [ObjectId() for _ in range(3)]
    await catalog.insert_many(
        [
            {
                "_id": i,
                "repoGuid": "repo-a",
                "fullPath": shared_path,
                "sdnaEventType": "label",
                "eventValue": f"A secret {n}",
                "start": n,
                "end": n + 1,
            }
            for n, i in enumerate(own_ids)
        ]
        + [
            {
                "_id": f"b-{n}",
                "repoGuid": "repo-b",
                "fullPath": shared_path,
                "sdnaEventType": "label",
                "eventValue": f"B secret {n}",
                "start": n,
                "end": n + 1,
            }
            for n in range(3)
        ]
    )
    by_path = await export(
        client, {**work_order(["json", "csv"]), "repo_guid": "repo-b", "inputs": {"full_path": shared_path}}
    )
    by_ids = await export(
        client,
        {**work_order(["json"]), "repo_guid": "repo-b", "inputs": {"event_ids": [str(i) for i in own_ids] + ["b-1"]}},
    )

    for result in (by_path, by_ids):
        folder = settings.export_base_path / result["id"]
        text = "".join(path.read_text(encoding="utf-8") for path in folder.rglob("*.json"))
        assert "A secret" not in text
        assert "B secret 1" in text
    assert by_ids["job"]["manifest"]["counts"]["events"] == 1


async def test_event_ids_and_single_segment(client, demo, settings) -> None:
    comments = [d for d in generate_demo_documents() if d["sdnaEventType"] == "comment"][:3]
    order = work_order(
        ["json"], inputs={"full_path": "/demo/interview.mov", "event_ids": [str(d["_id"]) for d in comments]}
    )
    order["outputs"] = {"comments": {"formats": ["json", "srt"], "isSingleSegment": True}}
    result = await export(client, order)

    folder = settings.export_base_path / result["id"]
    segments = json.loads((folder / "comments/sdna_ai_spark_comments.json").read_text(encoding="utf-8"))["segments"]
    assert len(segments) == 1
    assert segments[0]["start"] == min(d["start"] for d in comments)
    assert segments[0]["end"] == max(d["end"] for d in comments)
    assert all(d["eventValue"].split()[0] in segments[0]["eventValue"] for d in comments)


async def test_validation_lists_every_problem_and_stores_nothing(client, settings) -> None:
    bad = {
        "repo_guid": "",
        "inputs": {},
        "outputs": {"events": {"formats": ["json", "docx", "json"]}, "selects": {"handle_seconds": 99}},
        "media": {"frame_rate": "12", "start_timecode": "25:61:00:00"},
        "colour": "red",
    }
    response = await client.post("/spark", json=bad)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    pointers = {error["pointer"] for error in response.json()["errors"]}
    assert {
        "/repo_guid",
        "/inputs/full_path",
        "/outputs/events/formats/1",
        "/outputs/selects/handle_seconds",
        "/media/frame_rate",
        "/colour",
    } <= pointers
    listing = await client.get("/spark", params={"repo_guid": ""})
    assert listing.status_code == 422
    assert (await client.get("/spark", params={"repo_guid": "demo-repo"})).json()["total"] == 0


async def test_a_format_listed_twice_is_named(client) -> None:
    order = work_order(["json", "csv"])
    order["outputs"]["markers"] = {"formats": ["srt", "edl", "srt"]}
    response = await client.post("/spark", json=order)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"pointer": "/outputs/markers/formats/2", "message": "'srt' is listed twice"}]


@pytest.mark.parametrize(
    ("media", "pointer", "words"),
    [
        ({"frame_rate": "25", "drop_frame": True}, "/media/drop_frame", "drop frame"),
        ({"frame_rate": "29.97", "start_timecode": "00:01:00;00"}, "/media/start_timecode", "does not exist"),
        ({"frame_rate": "25", "start_timecode": "00:00:00:25"}, "/media/start_timecode", "frame 25"),
        ({"subclips": {"enabled": True}}, "/media/subclips/enabled", "MEDIA_ROOTS is empty"),
        ({"include_full_proxy": True}, "/media/include_full_proxy", "MEDIA_ROOTS is empty"),
    ],
)
async def test_media_problems_name_their_field(client, media, pointer, words) -> None:
    response = await client.post("/spark", json=work_order(["json"], media=media))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert any(error["pointer"] == pointer and words in error["message"] for error in errors), errors


async def test_a_work_order_asking_for_nothing_is_refused(client) -> None:
    response = await client.post(
        "/spark", json={"repo_guid": "r", "inputs": {"full_path": "/a.mov"}, "user_inputs": {"llm_instructions": False}}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/outputs"


async def test_idempotency_key_returns_the_first_job(client, demo) -> None:
    order = work_order(["json"])
    first = await client.post("/spark", json=order, headers={"Idempotency-Key": "k-1"})
    again = await client.post("/spark", json=order, headers={"Idempotency-Key": "k-1"})
    other = await client.post("/spark", json=work_order(["csv"]), headers={"Idempotency-Key": "k-1"})

    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["spark_id"] == first.json()["spark_id"]
    assert other.status_code == 409
    assert other.headers["content-type"].startswith(PROBLEM)
    assert (await client.get("/spark", params={"repo_guid": "demo-repo"})).json()["total"] == 1


async def test_a_failure_in_the_middle_leaves_no_package(client, demo, settings, monkeypatch) -> None:
    def broken_writer(path: Path, segments, timeline):
        path.write_text("half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(SEGMENT_WRITERS, "fcpxml", SegmentFormat("fcpxml", broken_writer))
    result = await export(client, work_order(["json", "fcpxml", "srt"]))

    assert result["status"]["status"] == "failed"
    errors = result["job"]["errors"]
    assert {error["artifact"] for error in errors} == {
        f"{name}/sdna_ai_spark_{name}.fcpxml" for name in ("transcript", "events", "comments", "markers")
    }
    assert all("No space left" in error["message"] for error in errors)
    written = {artifact["path"] for artifact in result["job"]["manifest"]["artifacts"]}
    assert "events/sdna_ai_spark_events.json" in written and "events/sdna_ai_spark_events.srt" in written
    assert not (settings.export_base_path / result["id"]).exists()
    assert list(settings.export_base_path.iterdir()) == []
    package = await client.get(f"/spark/{result['id']}/package")
    assert package.status_code == 404


async def test_an_unwritable_export_folder_fails_once_naming_the_path(make_settings, app_factory, demo, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    app = await app_factory(make_settings(export_base_path=blocker / "exports"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        result = await export(client, work_order(["json"]))

    assert result["status"]["status"] == "failed"
    assert result["status"]["attempts"] == 1
    assert str(blocker / "exports") in result["status"]["error"]


async def test_an_unknown_asset_fails_with_a_clear_message(client, demo) -> None:
    result = await export(client, work_order(["json"], inputs={"full_path": "/demo/typo.mov"}))
    assert result["status"]["status"] == "failed"
    assert "no events" in result["status"]["error"] and "/demo/typo.mov" in result["status"]["error"]


async def test_the_instructions_example_is_addressed_to_the_asset(client, demo, settings) -> None:
    result = await export(client, work_order(["json"]))
    text = (settings.export_base_path / result["id"] / "sdna_ai_spark_llm_instructions.md").read_text()
    example = json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])

    assert example["schemaVersion"] == "sdna.spark.import.v1"
    assert example["asset"] == {"repo_guid": "demo-repo", "fullPath": "/demo/interview.mov"}
    exported_ids = set()
    for path in (settings.export_base_path / result["id"]).rglob("*.json"):
        if path.name != "manifest.json":
            exported_ids |= {s["id"] for s in json.loads(path.read_text())["segments"]}
    cited = {i for h in example["highlights"] if h.get("eventMeta") for i in h["eventMeta"]["associatedEventIds"]}
    assert cited and cited <= exported_ids


def test_data_types_follow_the_spec() -> None:
    assert plan.data_type_of("transcript") == "transcript"
    assert plan.data_type_of("comment") == "comments"
    assert plan.data_type_of("insight") == "comments"
    assert plan.data_type_of("marker") == "markers"
    assert plan.data_type_of("ocr") == "events"
