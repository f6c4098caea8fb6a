"""Small helpers the API tests share: polling a job to its end, loading the demo asset."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

FINISHED = {"completed", "partially_completed", "failed", "cancelled"}
ALL_FORMATS = ["json", "csv", "xlsx", "srt", "vtt", "edl", "fcpxml", "xmeml", "otio", "avid"]


async def wait_until_finished(client: httpx.AsyncClient, status_url: str, within: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        response = await client.get(status_url)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in FINISHED:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{status_url} still {body['status']} after {within:g} s: {body}")
        await asyncio.sleep(0.05)


def work_order(formats: list[str] | None = None, **overrides: Any) -> dict[str, Any]:
    """A work order for the demo asset: every data type in `formats` (default: all ten)."""
    chosen = formats or ALL_FORMATS
    order: dict[str, Any] = {
        "repo_guid": "demo-repo",
        "inputs": {"full_path": "/demo/interview.mov"},
        "outputs": {name: {"formats": chosen} for name in ("transcript", "events", "comments", "markers")},
        "media": {"frame_rate": "24000/1001", "start_timecode": "01:00:00:00"},
    }
    order.update(overrides)
    return order


def synthetic_events(repo_guid: str, full_path: str, count: int, event_type: str = "label") -> list[dict[str, Any]]:
    """`count` plain catalog documents spread over the asset, for jobs that need bulk."""
    return [
        {
            "repoGuid": repo_guid,
            "fullPath": full_path,
            "sdnaEventType": event_type,
            "eventValue": f'{event_type} {number}, "quoted" | piped',
            "start": number * 0.25,
            "end": number * 0.25 + 1.5,
            "confidenceScore": float(number % 100),
        }
        for number in range(count)
    ]
