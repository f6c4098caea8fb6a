"""The export's plan: what the processor will write, decided from the work order, the catalog's
events (repaired or skipped into warnings) and the media's probe, before any file is written."""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from urllib.parse import quote

from features.create_export.media.source import MediaContext, Timing, decide_timing, load_media
from features.create_export.segment_table import SegmentTable
from features.create_export.timecode import TimecodeError, rational_label, timecode_to_frame
from features.create_export.timeline import Segment, Timeline
from features.create_export.work_order import DATA_TYPES, CreateExportRequest, DataTypeOutput
from shared.fabric import CatalogEvent, CatalogWarning, read_catalog
from shared.services import Services

MAX_WARNINGS = 200


class ExportRejected(Exception):
    """The work order cannot be carried out as asked; retrying will not help."""


@dataclass
class ExportPlan:
    """What the processor will write, decided from the work order and what the catalog holds."""

    order: CreateExportRequest
    full_path: str
    rate: Fraction
    drop_frame: bool
    start_frame: int
    segments: dict[str, SegmentTable]
    counts: dict[str, int]
    timing: Timing
    media: MediaContext | None = None
    warnings: list[str] = field(default_factory=list)

    def timeline(self, data_type: str) -> Timeline:
        return Timeline(
            rate=self.rate,
            drop_frame=self.drop_frame,
            start_frame=self.start_frame,
            repo_guid=self.order.repo_guid,
            full_path=self.full_path,
            data_type=data_type,
            title=f"{posixpath.basename(self.full_path) or self.full_path} {data_type}",
            media_url=media_url(self.full_path),
            width=self.timing.width,
            height=self.timing.height,
            media_duration=self.timing.media_duration,
            source_start_frame=self.timing.source_start_frame,
        )


def let_go(plan: ExportPlan) -> None:
    """Empty the plan's tables (blocking: run it in a thread, see `SegmentTable.clear`)."""
    for table in plan.segments.values():
        table.clear()


async def make_plan(
    order: CreateExportRequest, services: Services, on_read: Callable[[int], Awaitable[None]] | None = None
) -> ExportPlan:
    """The plan; `on_read(documents read so far)` is called during the catalog read."""
    read = await read_catalog(
        services.database.catalog, order.repo_guid, order.inputs.full_path, order.inputs.event_ids, on_read
    )
    # 100,000 events grouped into their tables: off the loop.
    grouped = await asyncio.to_thread(group_by_data_type, read.events)
    tables = await asyncio.to_thread(segment_tables, grouped, order.outputs)
    if not read.events and (order.outputs.requested_types() or order.outputs.selects.enabled):
        scope = f"repo_guid {order.repo_guid!r}, full_path {order.inputs.full_path!r}"
        ids = f", {len(order.inputs.event_ids)} event_ids" if order.inputs.event_ids else ""
        raise ExportRejected(f"the catalog has no events for {scope}{ids}")
    full_path = order.inputs.full_path or single_asset_path(read.events)
    media, media_warnings = await load_media(order.media, full_path, services.settings)
    timing = decide_timing(order.media, media, services.settings.default_frame_rate)
    try:
        start_frame = timecode_to_frame(order.media.start_timecode, timing.rate, timing.drop_frame)
    except TimecodeError as error:
        raise ExportRejected(f"start_timecode at the media's rate {rational_label(timing.rate)}: {error}") from None
    return ExportPlan(
        order=order,
        full_path=full_path,
        rate=timing.rate,
        drop_frame=timing.drop_frame,
        start_frame=start_frame,
        segments=tables,
        counts={name: len(segments) for name, segments in grouped.items()},
        timing=timing,
        media=media,
        warnings=[*media_warnings, *timing.warnings, *describe_warnings(read.warnings)],
    )


def segment_tables(grouped: dict[str, list[Segment]], outputs: Any) -> dict[str, SegmentTable]:
    """One table per data type, shared by every writer of it (merged when `isSingleSegment`). The
    segments are in writing order already: `read_catalog` gives (start, id) order, and grouping
    keeps it."""
    return {
        name: SegmentTable(merged(segments, outputs, name), in_writing_order=True) for name, segments in grouped.items()
    }


def group_by_data_type(events: Sequence[CatalogEvent]) -> dict[str, list[Segment]]:
    """The events in one list per data type, each in the events' order."""
    groups: dict[str, list[Segment]] = {name: [] for name in DATA_TYPES}
    # A catalog has a handful of event types: each is named once, not once per event.
    group_of: dict[str, list[Segment]] = {}
    for event in events:
        group = group_of.get(event.event_type)
        if group is None:
            group = group_of[event.event_type] = groups[data_type_of(event.event_type)]
        group.append(event)
    return groups


def data_type_of(event_type: str) -> str:
    """SPEC §2.1: transcript; comment and insight → comments; marker → markers; the rest are events."""
    kind = event_type.strip().lower()
    if kind == "transcript":
        return "transcript"
    if kind in ("comment", "insight"):
        return "comments"
    if kind == "marker":
        return "markers"
    return "events"


def merged(segments: list[Segment], outputs: Any, data_type: str) -> list[Segment]:
    """`isSingleSegment`: one segment from the first start to the last end, values joined by a space."""
    output: DataTypeOutput | None = getattr(outputs, data_type)
    if output is None or not output.isSingleSegment or not segments:
        return segments
    values = [segment.value.strip() for segment in segments if segment.value.strip()]
    return [
        Segment(
            id=f"{data_type}-merged",
            event_type=segments[0].event_type if len({s.event_type for s in segments}) == 1 else data_type,
            value=" ".join(values),
            start=min(segment.start for segment in segments),
            end=max(segment.end for segment in segments),
            source="merged",
        )
    ]


def single_asset_path(events: Sequence[CatalogEvent]) -> str:
    """Without `full_path`, the events named by id must all belong to one asset."""
    paths = sorted({event.full_path for event in events if event.full_path})
    if len(paths) > 1:
        shown = ", ".join(paths[:3]) + (" ..." if len(paths) > 3 else "")
        raise ExportRejected(f"event_ids span {len(paths)} assets ({shown}); give inputs.full_path to choose one")
    if not paths:
        raise ExportRejected("the events have no fullPath; give inputs.full_path")
    return paths[0]


def media_url(full_path: str) -> str:
    """An absolute `file://` URL for the asset, percent-encoded, as FCPXML and xmeml need."""
    path = full_path if full_path.startswith("/") else "/" + full_path
    return "file://" + quote(path, safe="/")


def describe_warnings(warnings: Sequence[CatalogWarning]) -> list[str]:
    described = [f"event {warning.event_id}: {warning.message}" for warning in warnings[:MAX_WARNINGS]]
    if len(warnings) > MAX_WARNINGS:
        described.append(f"... and {len(warnings) - MAX_WARNINGS} more repaired or skipped events")
    return described
