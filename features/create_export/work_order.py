"""The export work order (SPEC §4): what a client may ask for, validated whole in one pass.

Every rule that needs only the request lives here, so FastAPI reports every problem at once with
its JSON pointer (`/media/start_timecode`, `/outputs/events/formats/2`). Rules that need the
settings (media roots, the default frame rate) are checked by `handle` in the spine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from features.create_export.timecode import TimecodeError, parse_frame_rate, supports_drop_frame, timecode_to_frame
from shared.priority import Priority

Format = Literal["json", "csv", "xlsx", "srt", "vtt", "edl", "fcpxml", "xmeml", "otio", "avid"]
SelectsFormat = Literal["edl", "fcpxml", "xmeml", "otio"]
DataType = Literal["transcript", "events", "comments", "markers"]
DATA_TYPES: tuple[DataType, ...] = ("transcript", "events", "comments", "markers")
EventId = Annotated[str, StringConstraints(min_length=1, max_length=200)]

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)


def _no_duplicates(values: list[Any]) -> list[Any]:
    seen = set()
    for index, value in enumerate(values):
        if value in seen:
            raise _field_error((index,), "duplicate", f"'{value}' is listed twice", value)
        seen.add(value)
    return values


def _field_error(loc: tuple[str | int, ...], kind: str, message: str, value: Any) -> ValidationError:
    """A validation error at a precise location inside the model being validated."""
    return ValidationError.from_exception_data(
        "work order", [InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)]
    )


class DataTypeOutput(BaseModel):
    model_config = _STRICT

    formats: list[Format] = Field(min_length=1, max_length=10, description="files to write for this data type")
    isSingleSegment: bool = Field(False, description="merge every segment into one before writing")

    _unique = field_validator("formats")(_no_duplicates)


class SelectsOutput(BaseModel):
    model_config = _STRICT

    enabled: bool = False
    formats: list[SelectsFormat] = Field(default_factory=lambda: ["edl", "fcpxml"], min_length=1, max_length=4)
    source: list[DataType] = Field(default_factory=lambda: ["comments", "markers"], min_length=1, max_length=4)
    handle_seconds: float = Field(2.0, ge=0, le=30)

    _unique_formats = field_validator("formats")(_no_duplicates)
    _unique_sources = field_validator("source")(_no_duplicates)


class GroundingOutput(BaseModel):
    model_config = _STRICT

    enabled: bool = True


class Outputs(BaseModel):
    model_config = _STRICT

    transcript: DataTypeOutput | None = None
    events: DataTypeOutput | None = None
    comments: DataTypeOutput | None = None
    markers: DataTypeOutput | None = None
    selects: SelectsOutput = Field(default_factory=SelectsOutput)
    grounding: GroundingOutput = Field(default_factory=GroundingOutput)

    def requested_types(self) -> dict[DataType, DataTypeOutput]:
        return {name: output for name in DATA_TYPES if (output := getattr(self, name)) is not None}


class Inputs(BaseModel):
    model_config = _STRICT

    full_path: str | None = Field(None, min_length=1, max_length=4096, description="the asset in the repository")
    event_ids: list[EventId] | None = Field(None, max_length=10_000, description="restrict to these catalog ids")

    @model_validator(mode="after")
    def _something_to_read(self) -> Inputs:
        if self.full_path is None and not self.event_ids:
            raise _field_error(("full_path",), "missing_input", "give full_path, event_ids or both", None)
        return self


class UserInputs(BaseModel):
    model_config = _STRICT

    prompt: str | None = Field(None, max_length=20_000)
    llm_instructions: bool = True


class SubclipsOptions(BaseModel):
    model_config = _STRICT

    enabled: bool = False
    source: list[DataType] = Field(default_factory=lambda: ["comments", "markers"], min_length=1, max_length=4)
    handle_seconds: float = Field(2.0, ge=0, le=30)
    accurate: bool = False


class MediaOptions(BaseModel):
    model_config = _STRICT

    frame_rate: str | None = Field(
        None, max_length=20, description="rational or decimal, e.g. 25, 24000/1001, 29.97; null = DEFAULT_FRAME_RATE"
    )
    drop_frame: bool | None = Field(None, description="null = drop frame for 29.97 and 59.94, else non-drop")
    start_timecode: str = Field("00:00:00:00", max_length=11, description="record start of the timelines")
    width: int | None = Field(None, ge=16, le=16384)
    height: int | None = Field(None, ge=16, le=16384)
    include_full_proxy: bool = False
    proxy_path: str | None = Field(None, min_length=1, max_length=4096)
    subclips: SubclipsOptions = Field(default_factory=SubclipsOptions)

    @field_validator("frame_rate")
    @classmethod
    def _known_rate(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_frame_rate(value)
            except TimecodeError as error:
                raise PydanticCustomError("frame_rate", str(error)) from None
        return value

    @model_validator(mode="after")
    def _timecode_fits_the_rate(self) -> MediaOptions:
        if self.frame_rate is None:
            return self  # checked against DEFAULT_FRAME_RATE when the job is accepted
        problem = timeline_problem(parse_frame_rate(self.frame_rate), self.drop_frame, self.start_timecode)
        if problem is not None:
            field, message = problem
            raise _field_error((field,), "timecode", message, getattr(self, field))
        return self

    @property
    def needs_media(self) -> bool:
        return self.include_full_proxy or self.proxy_path is not None or self.subclips.enabled


class Metadata(BaseModel):
    model_config = _STRICT

    requested_by: str | None = Field(None, max_length=255)
    requested_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    export_preset: str = Field("editorial", min_length=1, max_length=100)
    export_mode: Literal["editorial", "llm", "review", "promo", "custom"] = "editorial"


class CreateExportRequest(BaseModel):
    """A work order: one asset, the data and formats wanted, and how timelines are timed."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "repo_guid": "demo-repo",
                    "inputs": {"full_path": "/demo/interview.mov"},
                    "user_inputs": {"prompt": "Find the three strongest answers.", "llm_instructions": True},
                    "outputs": {
                        "transcript": {"formats": ["srt", "vtt", "json"]},
                        "comments": {"formats": ["edl", "fcpxml", "xmeml", "otio", "avid", "csv", "xlsx"]},
                        "selects": {"enabled": True, "formats": ["edl", "fcpxml"], "handle_seconds": 2},
                    },
                    "media": {"frame_rate": "24000/1001", "start_timecode": "01:00:00:00"},
                }
            ]
        },
    )

    spark_version: Literal["1.0"] = "1.0"
    repo_guid: str = Field(min_length=1, max_length=255)
    inputs: Inputs
    user_inputs: UserInputs = Field(default_factory=UserInputs)
    outputs: Outputs = Field(default_factory=Outputs)
    media: MediaOptions = Field(default_factory=MediaOptions)
    metadata: Metadata = Field(default_factory=Metadata)
    priority: Priority = Field(Priority.normal, description="claims take high first; a waiting job rises with age")

    @model_validator(mode="after")
    def _asks_for_something(self) -> CreateExportRequest:
        wants_files = bool(self.outputs.requested_types()) or self.outputs.selects.enabled
        wants_text = bool(self.user_inputs.prompt) and self.outputs.grounding.enabled
        if not (wants_files or wants_text or self.user_inputs.llm_instructions or self.media.needs_media):
            raise _field_error(
                ("outputs",),
                "empty_order",
                "the work order asks for nothing: no data type, selects, prompt or instructions",
                None,
            )
        return self


def timeline_problem(rate: Fraction, drop_frame: bool | None, start_timecode: str) -> tuple[str, str] | None:
    """The field and message of what is wrong with this rate/drop-frame/start combination, if anything."""
    if drop_frame and not supports_drop_frame(rate):
        return "drop_frame", "drop frame exists only at 29.97 and 59.94"
    effective_drop = supports_drop_frame(rate) if drop_frame is None else drop_frame
    try:
        timecode_to_frame(start_timecode, rate, effective_drop)
    except TimecodeError as error:
        return "start_timecode", str(error)
    return None
