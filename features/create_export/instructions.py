"""The package's words for an LLM: the instructions file and the grounding prompt.

The instructions describe what the package holds and the exact import document of SPEC §6, with an
example built from `import_example.json` (the file the import slice's tests feed to its validator
unchanged), re-addressed to this package's asset and, where it has one, a real segment id.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

from features.create_export.package import Artifact

HERE = Path(__file__).parent
EXAMPLE_PATH = HERE / "import_example.json"
TEMPLATE_PATH = HERE / "instructions.md"
INSTRUCTIONS_NAME = "sdna_ai_spark_llm_instructions.md"
GROUNDING_NAME = "sdna_ai_spark_grounding.txt"

FORMAT_WORDS = {
    "json": "JSON (read this first)",
    "csv": "CSV spreadsheet",
    "xlsx": "Excel workbook (times as [hh]:mm:ss.000)",
    "srt": "SubRip captions",
    "vtt": "WebVTT captions",
    "edl": "CMX 3600 EDL (DaVinci Resolve markers, or a cut list for selects)",
    "fcpxml": "Final Cut Pro XML 1.10",
    "xmeml": "FCP7 XML for Premiere Pro",
    "otio": "OpenTimelineIO",
    "avid": "Avid Media Composer marker list",
}


@cache
def _template() -> Template:
    return Template(TEMPLATE_PATH.read_text(encoding="utf-8"))


@cache
def stored_example() -> dict[str, Any]:
    return json.loads(EXAMPLE_PATH.read_text(encoding="utf-8"))


def example_for(repo_guid: str, full_path: str, segment_id: str | None) -> dict[str, Any]:
    """The stored example, re-addressed to this asset and citing one of its real segment ids."""
    example = copy.deepcopy(stored_example())
    example["asset"] = {"repo_guid": repo_guid, "fullPath": full_path}
    if segment_id is not None:
        for highlight in example["highlights"]:
            if highlight.get("eventMeta"):
                highlight["eventMeta"]["associatedEventIds"] = [segment_id]
    return example


def artifact_lines(artifacts: list[Artifact]) -> str:
    lines = []
    for artifact in artifacts:
        words = FORMAT_WORDS.get(artifact.format, artifact.format)
        merged = (
            f" standing for {artifact.segments} segments" if artifact.segments not in (None, artifact.items) else ""
        )
        lines.append(f"- `{artifact.path}` — {artifact.artifact_type}, {words}, {artifact.items} items{merged}")
    return "\n".join(lines) if lines else "- (no data files were requested)"


def render_instructions(
    *,
    spark_id: str,
    repo_guid: str,
    full_path: str,
    frame_rate: str,
    drop_frame: bool,
    start_timecode: str,
    created_at: str,
    artifacts: list[Artifact],
    has_grounding: bool,
    segment_id: str | None,
) -> str:
    example = example_for(repo_guid, full_path, segment_id)
    grounding_note = (
        f"\nThe editor's request is in `{GROUNDING_NAME}`: read it before you answer.\n" if has_grounding else ""
    )
    return _template().substitute(
        spark_id=spark_id,
        repo_guid=repo_guid,
        full_path=full_path,
        frame_rate=frame_rate,
        timecode_kind="drop-frame timecode" if drop_frame else "non-drop-frame timecode",
        start_timecode=start_timecode,
        created_at=created_at,
        artifact_list=artifact_lines(artifacts),
        grounding_note=grounding_note,
        example=json.dumps(example, indent=2, ensure_ascii=False),
    )


def grounding_text(prompt: str) -> str:
    """The editor's prompt as written, with one trailing newline."""
    return prompt.rstrip("\n") + "\n"
