"""Bad media input: a 422 naming the field when it can be known at submission, else a failed job
naming the path; nothing published, nothing left behind, no server path in any answer."""

from __future__ import annotations

import os
import shutil

import httpx
import pytest

from tests.features.create_export.media.support import events_for, run_export

PROBLEM = "application/problem+json"


@pytest.fixture
async def setup(make_settings, app_factory, media_files, tmp_path, catalog):
    root = tmp_path / "root"
    (root / "clips").mkdir(parents=True)
    _, good = media_files["25-tc10"]
    shutil.copyfile(good, root / "clips" / "good.mov")
    (root / "clips" / "notes.mov").write_text("not a movie at all\n")
    outside = tmp_path / "outside.mov"
    shutil.copyfile(good, outside)
    os.symlink(outside, root / "clips" / "escape.mov")
    settings = make_settings(media_roots=[root])
    app = await app_factory(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        yield http, settings, root, outside


def order(full_path: str, **media) -> dict:
    return {
        "repo_guid": "media-repo",
        "inputs": {"full_path": full_path},
        "user_inputs": {"llm_instructions": False},
        "media": {"subclips": {"enabled": True, "source": ["comments"]}, **media},
    }


@pytest.mark.parametrize(
    ("full_path", "media", "pointer", "message"),
    [
        ("/clips/../../outside.mov", {}, "/inputs/full_path", "contains '..'"),
        ("/clips/-y.mov", {}, "/inputs/full_path", "name starting with '-'"),
        ("concat:/clips/good.mov|/etc/passwd", {}, "/inputs/full_path", "URL or an ffmpeg protocol"),
        ("/clips/good.mov", {"proxy_path": "http://example.com/proxy.mp4"}, "/media/proxy_path", "URL or an ffmpeg"),
    ],
)
async def test_paths_that_can_never_be_read_get_a_422(setup, full_path, media, pointer, message) -> None:
    client, _, _, _ = setup
    response = await client.post("/spark", json=order(full_path, **media))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    errors = response.json()["errors"]
    assert any(error["pointer"] == pointer and message in error["message"] for error in errors), errors
    assert (await client.get("/spark?repo_guid=media-repo")).json()["total"] == 0


async def test_media_roots_empty_is_a_422(make_settings, app_factory) -> None:
    app = await app_factory(make_settings(media_roots=[]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.post("/spark", json=order("/clips/good.mov", proxy_path="/clips/p.mp4"))
    assert response.status_code == 422
    assert "MEDIA_ROOTS is empty" in response.text


@pytest.mark.parametrize(
    ("full_path", "message"),
    [
        ("/clips/missing.mov", "'/clips/missing.mov' was not found in MEDIA_ROOTS"),
        ("OUTSIDE", "was not found in MEDIA_ROOTS"),
        ("/clips/escape.mov", "'/clips/escape.mov' leads outside MEDIA_ROOTS"),
        ("/clips/notes.mov", "'/clips/notes.mov': ffprobe cannot read it as media"),
    ],
)
async def test_media_that_cannot_be_used_fails_the_job_naming_it(setup, catalog, full_path, message) -> None:
    client, settings, root, outside = setup
    full_path = str(outside) if full_path == "OUTSIDE" else full_path
    await catalog.insert_many(events_for("media-repo", full_path))

    job = await run_export(client, order(full_path))

    assert job["status"] == "failed"
    assert message in job["error"]
    assert str(root) not in str(job)
    assert not (settings.export_base_path / job["spark_id"]).exists(), "nothing may be published"
    assert not list(settings.export_base_path.glob(".*")), "no build folder may be left behind"
