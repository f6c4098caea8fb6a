"""The API load benchmark's client loop."""

from __future__ import annotations

import itertools

import httpx
import respx

from bench import api_bench


@respx.mock
async def test_a_dropped_connection_is_counted_and_the_run_goes_on() -> None:
    calls = itertools.count()

    def answer(request: httpx.Request) -> httpx.Response:
        if next(calls) % 3 == 1:
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(200)

    respx.get("http://target.test/ping").mock(side_effect=answer)
    result = api_bench.Result("service", "GET /ping", 0.2)
    await api_bench.hammer("http://target.test", lambda http: http.get("/ping"), 2, 0.2, result)

    answered = len(result.latencies)
    assert result.errors > 0 and answered > 0
    assert abs(answered - 2 * result.errors) <= 4  # one call in three dropped, by both clients
