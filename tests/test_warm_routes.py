"""main.warm_routes: one request walked past every route before serving, nothing logged, no side effect."""

from __future__ import annotations

import logging

import pytest

import main
from shared.settings import Settings


async def test_the_warm_up_walks_past_every_route_to_a_404(caplog: pytest.LogCaptureFixture) -> None:
    app = main.create_app(Settings(_env_file=None, environment="test", mongodb_url="mongodb://127.0.0.1:1"))
    with caplog.at_level(logging.INFO):
        assert await main.warm_routes(app) == 404
        assert await main.warm_routes(app) == 404  # and again: nothing it built is in the way
    assert not [record for record in caplog.records if main.WARM_UP_PATH in record.getMessage()]
    assert not any(route.path == main.WARM_UP_PATH for route in app.routes if hasattr(route, "path"))
