"""`GET /spark/import/{id}/status`: status, progress, counts and error."""

from __future__ import annotations

import httpx
import pytest
import respx

from shared.fabric import INSIGHTS_PATH
from tests.features.create_import.support import finished_import, import_document


@pytest.fixture
def settings(make_settings):
    return make_settings(fabric_api_url="https://fabric.example")


@respx.mock
async def test_status_has_the_counts(client) -> None:
    respx.post("https://fabric.example" + INSIGHTS_PATH).mock(return_value=httpx.Response(400, text="no"))
    import_id = await finished_import(client, import_document(3))
    status = (await client.get(f"/spark/import/{import_id}/status")).json()

    assert set(status) == {
        "import_id",
        "status",
        "priority",
        "progress",
        "attempts",
        "items_total",
        "items_created",
        "items_failed",
        "created_at",
        "started_at",
        "completed_at",
        "error",
    }
    assert (status["status"], status["items_total"], status["items_created"], status["items_failed"]) == (
        "failed",
        3,
        0,
        3,
    )
    assert "Fabric answered 400" in status["error"]


async def test_unknown_id_is_404(client) -> None:
    assert (await client.get("/spark/import/not-an-id/status")).status_code == 404
