"""Artifacts are served from inside their package only; every escape attempt is a 404."""

from __future__ import annotations

import os

import pytest

from tests.support import wait_until_finished, work_order
from tools.demo_asset import load_demo_asset


@pytest.fixture
async def completed(client, catalog, settings) -> str:
    await load_demo_asset(catalog)
    response = await client.post("/spark", json=work_order(["srt", "json", "fcpxml"]))
    status = await wait_until_finished(client, response.json()["links"]["status"])
    assert status["status"] == "completed"
    return response.json()["spark_id"]


async def test_a_file_is_streamed_with_its_content_type(client, completed, settings) -> None:
    response = await client.get(f"/spark/{completed}/artifacts/comments/sdna_ai_spark_comments.srt")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-subrip")
    on_disk = settings.export_base_path / completed / "comments/sdna_ai_spark_comments.srt"
    assert response.content == on_disk.read_bytes()
    xml = await client.get(f"/spark/{completed}/artifacts/events/sdna_ai_spark_events.fcpxml")
    assert xml.headers["content-type"].startswith("application/xml")


@pytest.mark.parametrize(
    "path",
    [
        "../../../etc/passwd",
        "comments/../../secret.txt",
        "%2e%2e/%2e%2e/etc/passwd",
        "..%2f..%2fetc%2fpasswd",
        "%252e%252e/secret.txt",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "comments/%00.srt",
        "comments",
        "no/such/file.srt",
        "outside-link/passwd",
        "link-to-secret.txt",
    ],
)
async def test_paths_that_leave_the_package_are_404(client, completed, settings, tmp_path, path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve me")
    package = settings.export_base_path / completed
    os.symlink("/etc", package / "outside-link")
    os.symlink(secret, package / "link-to-secret.txt")
    (settings.export_base_path / "secret.txt").write_text("sibling of the package")

    response = await client.get(f"/spark/{completed}/artifacts/{path}")

    assert response.status_code == 404, (path, response.status_code)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "do not serve me" not in response.text and "root:" not in response.text


async def test_a_job_that_is_not_completed_serves_nothing(client) -> None:
    response = await client.post("/spark", json=work_order(["json"], inputs={"full_path": "/none.mov"}))
    await wait_until_finished(client, response.json()["links"]["status"])
    artifact = await client.get(f"/spark/{response.json()['spark_id']}/artifacts/manifest.json")
    assert artifact.status_code == 404


async def test_unknown_and_malformed_ids_are_404(client) -> None:
    assert (await client.get("/spark/6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11/artifacts/x")).status_code == 404
    assert (await client.get("/spark/not-a-uuid/artifacts/x")).status_code == 404
