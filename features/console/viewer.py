"""`GET /console/spark/{spark_id}` — the package viewer: a finished export played with its own data.

200 with the viewer for a completed (or partially completed) export: the proxy in a `<video>` with
the package's WebVTT files as tracks (the transcript as captions, on by default; comments, markers
and events as metadata/chapters the page shows beside the picture), lists of the markers and
comments that seek the video and follow playback, and the current frame's media timecode. Without
a proxy the same lists sit on a time ruler. 200 with an explanation for an export that has not
completed (pending, processing, failed, cancelled); 404 with a page for an unknown id.

Everything comes from the job's manifest (what `GET /spark/{id}` returns) and the artifact URLs
it lists (`GET /spark/{id}/artifacts/...`): the page fetches the JSON files itself, so the viewer
can show nothing an API client could not read. The timecode arithmetic runs in `static/viewer.js`
from the manifest's rate, drop-frame flag and the media's source timecode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from features.console.console import page as console_page
from shared.db import DatabaseDep
from shared.jobs import JobStatus, load_job

router = APIRouter(prefix="/console", include_in_schema=False)

VIEWABLE = {JobStatus.completed, JobStatus.partially_completed}
# How each data type's WebVTT file is offered: the transcript is read aloud on the picture; the
# others are timed data the page lists beside it (a browser draws only captions and subtitles).
TRACK_KINDS = {"transcript": "captions", "markers": "chapters", "comments": "metadata", "events": "metadata"}
TRACK_LABELS = {"transcript": "Transcript", "markers": "Markers", "comments": "Comments", "events": "Events"}
LISTED = ("markers", "comments")


@dataclass
class ViewerPage:
    status_code: int
    title: str
    message: str | None = None
    job: dict[str, Any] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    tracks: list[dict[str, Any]] = field(default_factory=list)


@router.get("/spark/{spark_id}", response_class=HTMLResponse)
async def console_viewer(spark_id: str, request: Request, database: DatabaseDep) -> HTMLResponse:
    found = await handle(database, spark_id)
    return console_page(
        request,
        "viewer.html",
        status_code=found.status_code,
        title=found.title,
        message=found.message,
        job=found.job,
        config=found.config,
        tracks=found.tracks,
    )


async def handle(database: Any, spark_id: str) -> ViewerPage:
    job = await load_job(database, "export", spark_id)
    if job is None:
        return ViewerPage(404, "Package not found", f"There is no export with the id {spark_id}.")
    summary = {"spark_id": job.id, "repo_guid": job.repo_guid, "status": str(job.status), "error": job.error}
    manifest = job.result.get("manifest")
    if job.status not in VIEWABLE or not manifest:
        message = f"This export is {job.status}; its package can be viewed once it has completed."
        return ViewerPage(200, "Package not ready", message, job=summary)
    summary["full_path"] = manifest.get("full_path")
    artifacts = manifest.get("artifacts", [])
    tracks = [
        {
            "data_type": artifact["artifact_type"],
            "kind": TRACK_KINDS[artifact["artifact_type"]],
            "label": TRACK_LABELS[artifact["artifact_type"]],
            "url": artifact["url"],
            "default": artifact["artifact_type"] == "transcript",
        }
        for artifact in artifacts
        if artifact.get("format") == "vtt" and artifact.get("artifact_type") in TRACK_KINDS
    ]
    lists = [
        {"data_type": name, "label": TRACK_LABELS[name], "url": artifact["url"]}
        for name in LISTED
        for artifact in artifacts
        if artifact.get("artifact_type") == name and artifact.get("format") == "json"
    ]
    proxy = next((artifact for artifact in artifacts if artifact.get("artifact_type") == "proxy"), None)
    media = manifest.get("media") or {}
    config = {
        "spark_id": job.id,
        "frame_rate": manifest.get("frame_rate"),
        "drop_frame": bool(manifest.get("drop_frame")),
        "source_timecode": source_timecode(manifest, proxy),
        "duration": (proxy or {}).get("duration") or media.get("duration_seconds"),
        "proxy_url": proxy["url"] if proxy else None,
        "lists": lists,
    }
    return ViewerPage(200, f"Package {job.id}", job=summary, config=config, tracks=tracks if proxy else [])


def source_timecode(manifest: dict[str, Any], proxy: dict[str, Any] | None) -> str:
    """The timecode of the first frame: the proxy's source in, the media's own start, else the package's."""
    media = manifest.get("media") or {}
    found = (proxy or {}).get("source_in") or media.get("start_timecode") or manifest.get("start_timecode")
    return found or "00:00:00:00"
