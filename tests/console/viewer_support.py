"""Real exports for the viewer tests: short media made by ffmpeg, catalog events, the real pipeline over HTTP."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId

from tests.features.create_export.media.fixtures import MediaFixture, make
from tests.support import wait_until_finished
from tools import demo_media

SECONDS = 4
REPO = "viewer-repo"
# On a frame, between frames, near the end; a value with HTML in it that must stay text.
MARKS = [(0.5, 0.9), (1.27, 1.6), (2.02, 2.5)]
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


@dataclass(frozen=True)
class ViewerMedia:
    name: str
    relative: str  # under the MEDIA_ROOTS folder
    rate: str
    start_timecode: str


MEDIA = [
    # The demo asset's look (burnt-in timecode, 320×180) at 23.976 from 01:00:00:00, cut to a few seconds.
    ViewerMedia("demo-23.976", "demo/interview.mov", "24000/1001", "01:00:00:00"),
    # 29.97 drop frame starting just before a minute, so the clip's timecodes skip ;00 and ;01.
    ViewerMedia("29.97DF", "clips/df.mov", "30000/1001", "00:00:59;20"),
]


def make_media(root: Path) -> None:
    """Every file of MEDIA under `root` (blocking: ffmpeg)."""
    demo = root / MEDIA[0].relative
    demo.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(demo_media.command(demo, True, SECONDS), check=True, capture_output=True)
    except subprocess.CalledProcessError:  # no font for drawtext: the same picture without the text
        subprocess.run(demo_media.command(demo, False, SECONDS), check=True, capture_output=True)
    (root / "clips").mkdir(exist_ok=True)
    make(MediaFixture("df", "df.mov", Fraction(30000, 1001), True, "00:00:59;20", 2, SECONDS), root / "clips")


def catalog_events(full_path: str) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []

    def add(event_type: str, value: str, start: float, end: float) -> None:
        documents.append(
            {
                "_id": ObjectId(),
                "repoGuid": REPO,
                "fullPath": full_path,
                "sdnaEventType": event_type,
                "eventValue": value,
                "start": start,
                "end": end,
            }
        )

    for number, (start, end) in enumerate(MARKS):
        add("marker", f"marker {number}", start, end)
        add("comment", f"comment {number}", start + 0.1, end + 0.1)
    add("marker", HOSTILE, 3.0, 3.3)
    for number in range(5):
        add("transcript", f"line {number} of the interview", number * 0.75, number * 0.75 + 0.6)
    return documents


def export_order(full_path: str, rate: str, start_timecode: str, proxy: bool) -> dict[str, Any]:
    order: dict[str, Any] = {
        "repo_guid": REPO,
        "inputs": {"full_path": full_path},
        "user_inputs": {"llm_instructions": False},
        "outputs": {name: {"formats": ["json", "vtt"]} for name in ("transcript", "events", "comments", "markers")},
        "media": {"frame_rate": rate, "start_timecode": start_timecode, "include_full_proxy": proxy},
    }
    return order


async def run_export(base_url: str, order: dict[str, Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10, headers=headers) as client:
        response = await client.post("/spark", json=order)
        assert response.status_code == 202, response.text
        await wait_until_finished(client, response.json()["links"]["status"], within=120)
        job = (await client.get(response.headers["location"])).json()
    assert job["status"] == "completed", job
    return job


def artifact(job: dict[str, Any], artifact_type: str, fmt: str) -> dict[str, Any]:
    (found,) = [
        entry
        for entry in job["manifest"]["artifacts"]
        if entry["artifact_type"] == artifact_type and entry["format"] == fmt
    ]
    return found
