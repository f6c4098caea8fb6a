"""`GET /health` against a real database, a reachable or unreachable one, and Fabric's API."""

from __future__ import annotations

import time

import httpx
import respx

from tools.embedded_mongo import EmbeddedMongo, free_port


async def test_health_is_ok_with_a_reachable_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert body["checks"]["mongodb"]["status"] == "ok"
    assert body["checks"]["mongodb"]["latency_ms"] >= 0
    assert body["checks"]["fabric_catalog"]["status"] == "ok"
    assert body["checks"]["fabric_api"]["status"] == "unconfigured"
    assert body["checks"]["worker"]["details"]["queued"] == {"export": 0, "import": 0}


async def test_unreachable_database_gives_503_naming_mongodb_quickly(make_settings, app_factory) -> None:
    settings = make_settings(mongodb_url=f"mongodb://127.0.0.1:{free_port()}")
    app = await app_factory(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        started = time.monotonic()
        response = await client.get("/health")
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert "mongodb" in response.json()["failing"]
    assert response.json()["checks"]["mongodb"]["status"] == "error"
    assert elapsed < 5


async def test_database_stopped_and_restarted_under_a_running_service(make_settings, app_factory, tmp_path) -> None:
    with EmbeddedMongo(tmp_path / "own-db") as server:
        app = await app_factory(make_settings(mongodb_url=server.url))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            assert (await client.get("/health")).status_code == 200

            server.stop()
            started = time.monotonic()
            down = await client.get("/health")
            assert down.status_code == 503
            assert "mongodb" in down.json()["failing"]
            assert time.monotonic() - started < 5
            # Any other route says the same in its own words: a 503 to retry, never a 500.
            listing = await client.get("/jobs")
            assert listing.status_code == 503, listing.text
            assert listing.headers["content-type"].startswith("application/problem+json")
            assert listing.headers["retry-after"].isdigit()
            assert "database" in listing.json()["detail"]

            server.start()  # same port, same data folder
            recovered = None
            for _ in range(30):
                recovered = await client.get("/health")
                if recovered.status_code == 200:
                    break
            assert recovered is not None and recovered.status_code == 200


@respx.mock
async def test_fabric_api_is_pinged_with_a_get_never_a_push(make_settings, app_factory) -> None:
    ping = respx.get("https://fabric.example/").mock(return_value=httpx.Response(200))
    push = respx.post(url__startswith="https://fabric.example/catalogs").mock(return_value=httpx.Response(200))
    app = await app_factory(make_settings(fabric_api_url="https://fabric.example", fabric_api_key="k"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/health")

    assert response.json()["checks"]["fabric_api"]["status"] == "ok"
    assert ping.called
    assert not push.called


@respx.mock
async def test_unreachable_fabric_api_is_reported_but_not_required(make_settings, app_factory) -> None:
    respx.get("https://fabric.example/").mock(side_effect=httpx.ConnectError("refused"))
    app = await app_factory(make_settings(fabric_api_url="https://fabric.example"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/health")

    assert response.status_code == 200
    assert response.json()["checks"]["fabric_api"]["status"] == "error"
    assert "refused" in response.json()["checks"]["fabric_api"]["error"]


async def test_media_is_reported_but_not_required_without_media_roots(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    assert body["checks"]["media"]["status"] == "unconfigured"
    assert "media" not in body["failing"]


async def test_media_is_required_with_media_roots(make_settings, app_factory, tmp_path) -> None:
    good = await app_factory(make_settings(media_roots=[tmp_path]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=good), base_url="http://t") as http:
        response = await http.get("/health")
    media = response.json()["checks"]["media"]
    assert response.status_code == 200 and media["status"] == "ok"
    assert media["details"]["encoders"] == {"libx264": True, "aac": True}

    bad = await app_factory(make_settings(media_roots=[tmp_path / "missing"]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=bad), base_url="http://t") as http:
        response = await http.get("/health")
    assert response.status_code == 503
    assert "media" in response.json()["failing"]
    assert "not readable folders" in response.json()["checks"]["media"]["error"]
    assert str(tmp_path) not in response.text
