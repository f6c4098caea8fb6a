"""The package zip is streamed as an attachment and holds the package's files."""

from __future__ import annotations

import io
import zipfile

from tests.support import wait_until_finished, work_order
from tools.demo_asset import load_demo_asset


async def test_the_zip_is_an_attachment_with_every_file(client, catalog, settings) -> None:
    await load_demo_asset(catalog)
    response = await client.post("/spark", json=work_order(["json", "edl"]))
    spark_id = response.json()["spark_id"]
    await wait_until_finished(client, response.json()["links"]["status"])

    download = await client.get(f"/spark/{spark_id}/package")

    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["content-disposition"] == f'attachment; filename="{spark_id}.zip"'
    names = set(zipfile.ZipFile(io.BytesIO(download.content)).namelist())
    manifest = (await client.get(f"/spark/{spark_id}")).json()["manifest"]
    assert {artifact["path"] for artifact in manifest["artifacts"]} | {"manifest.json"} == names
    assert manifest and (await client.get(f"/spark/{spark_id}")).json()["package"]["size"] == len(download.content)


async def test_unknown_export_has_no_package(client) -> None:
    response = await client.get("/spark/6f1b8e8e-4f4c-4b7e-9a43-2f0c1d1e0a11/package")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
