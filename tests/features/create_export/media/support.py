"""What the media export tests share: seeding events for a fixture, running an export, ffprobe."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.support import wait_until_finished

# Seconds into the media: on a frame, between frames, and near the end of a 3-4 s fixture.
EVENT_TIMES = [(0.5, 0.9), (1.27, 1.6), (2.02, 2.5)]


def events_for(repo_guid: str, full_path: str) -> list[dict[str, Any]]:
    documents = []
    for number, (start, end) in enumerate(EVENT_TIMES):
        for event_type in ("comment", "marker"):
            documents.append(
                {
                    "_id": f"{event_type}-{number}",
                    "repoGuid": repo_guid,
                    "fullPath": full_path,
                    "sdnaEventType": event_type,
                    "eventValue": f"{event_type} {number}",
                    "start": start,
                    "end": end,
                }
            )
    return documents


async def run_export(client: httpx.AsyncClient, order: dict[str, Any], within: float = 120) -> dict[str, Any]:
    response = await client.post("/spark", json=order)
    assert response.status_code == 202, response.text
    await wait_until_finished(client, response.json()["links"]["status"], within=within)
    return (await client.get(response.headers["location"])).json()


def ffprobe(path: Path, *arguments: str) -> dict[str, Any]:
    command = ["ffprobe", "-v", "error", "-of", "json", *arguments, str(path)]
    return json.loads(subprocess.run(command, check=True, capture_output=True).stdout)


def probe_streams(path: Path) -> dict[str, Any]:
    return ffprobe(path, "-show_format", "-show_streams")
