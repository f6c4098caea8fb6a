"""Test fixtures: a real MongoDB wire-protocol server, a fresh database per test, the app in-process.

`MONGODB_URL` set → the suite runs against that server (a real `mongod`, say). Unset → the embedded
FerretDB server is built if needed and started once per session in a temporary folder. Each test
gets its own service database and catalog database, dropped afterwards, so tests never see each
other's jobs or events.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings as hypothesis_settings
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.collection import AsyncCollection

from shared.db import CATALOG_COLLECTION
from shared.settings import Settings, load_settings
from tools.embedded_mongo import EmbeddedMongo

# Property tests check results, not speed: a loaded CI machine must not turn slowness into failures.
hypothesis_settings.register_profile("ai-spark", deadline=None, print_blob=True)
hypothesis_settings.load_profile("ai-spark")


@pytest.fixture(scope="session")
def mongodb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("MONGODB_URL")
    if external:
        yield external
        return
    data_dir = tmp_path_factory.mktemp("ferretdb") / "data"
    with EmbeddedMongo(data_dir) as server:
        yield server.url


@pytest.fixture
def database_names(mongodb_url: str) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:12]
    names = (f"t_{suffix}", f"c_{suffix}")
    yield names
    with MongoClient(mongodb_url, serverSelectionTimeoutMS=3000) as client:
        for name in names:
            client.drop_database(name)


@pytest.fixture
def make_settings(mongodb_url: str, database_names: tuple[str, str], tmp_path: Path) -> Callable[..., Settings]:
    """Settings for one test: its own databases and folders; keyword overrides on top."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "mongodb_url": mongodb_url,
            "mongodb_db_name": database_names[0],
            "fabric_catalog_db": database_names[1],
            "export_base_path": tmp_path / "exports",
            "import_base_path": tmp_path / "imports",
            "environment": "test",
            "fabric_api_url": None,
            "fabric_api_key": None,
            "api_keys": [],
            "api_read_keys": [],
            "media_roots": [],
            "lease_seconds": 60,
            "_env_file": None,
        }
        values.update(overrides)
        return load_settings(**values)

    return build


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def catalog(settings: Settings) -> AsyncIterator[AsyncCollection]:
    """This test's Fabric catalog collection, to seed with events."""
    client: AsyncMongoClient = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    yield client[settings.fabric_catalog_db][CATALOG_COLLECTION]
    await client.close()


@pytest.fixture
async def app_factory() -> AsyncIterator[Callable[[Settings], Any]]:
    """Start the real app (lifespan included) for some settings; everything is stopped afterwards."""
    from main import create_app

    started: list[Any] = []

    async def start(settings: Settings) -> Any:
        app = create_app(settings)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        started.append(lifespan)
        return app

    yield start
    for lifespan in reversed(started):
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def app(app_factory: Callable[[Settings], Any], settings: Settings) -> Any:
    return await app_factory(settings)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
