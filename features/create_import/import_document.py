"""The import document (SPEC §6): what an LLM sends back, validated whole in one pass.

Every violation is reported with its JSON pointer (`/highlights/12/end`) in one 422. Numbers must be
real numbers: `NaN`, `Infinity` and numeric strings are refused, so a highlight never reaches Fabric
with a time it cannot place.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from shared.priority import Priority

SCHEMA_VERSION = "sdna.spark.import.v1"
MAX_HIGHLIGHTS = 10_000

Seconds = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_STRICT = ConfigDict(extra="forbid")


def _error_at(field: str, kind: str, message: str, value: Any) -> ValidationError:
    return ValidationError.from_exception_data(
        "import document", [InitErrorDetails(type=PydanticCustomError(kind, message), loc=(field,), input=value)]
    )


class ImportAsset(BaseModel):
    model_config = _STRICT

    repo_guid: str = Field(min_length=1, max_length=255)
    fullPath: str = Field(min_length=1, max_length=4096)


class EventMeta(BaseModel):
    model_config = _STRICT

    associatedEventIds: list[EventId] = Field(default_factory=list, max_length=1000)


class Highlight(BaseModel):
    """One time range worth noting, with what the LLM says about it."""

    model_config = _STRICT

    comment: str | None = Field(None, min_length=1, max_length=10_000)
    insight: str | None = Field(None, min_length=1, max_length=10_000, description="another name for comment")
    start: Seconds
    end: Seconds
    confidenceScore: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=100)] | None = None
    eventMeta: EventMeta | None = None

    @model_validator(mode="after")
    def _one_text_and_a_real_range(self) -> Highlight:
        if self.comment is None and self.insight is None:
            raise _error_at("comment", "missing_text", "give comment (or insight)", None)
        if self.comment is not None and self.insight is not None:
            raise _error_at("insight", "two_texts", "give comment or insight, not both", self.insight)
        if self.end <= self.start:
            raise _error_at(
                "end", "end_before_start", f"end {self.end} must be greater than start {self.start}", self.end
            )
        return self

    @property
    def text(self) -> str:
        return self.comment if self.comment is not None else self.insight or ""

    def as_insight_event(self) -> dict[str, Any]:
        """The event of SPEC §2.2's `insightEvents`."""
        ids = self.eventMeta.associatedEventIds if self.eventMeta else []
        return {
            "insight": self.text,
            "start": self.start,
            "end": self.end,
            "confidenceScore": self.confidenceScore,
            "eventMeta": {"associatedEventIds": list(ids)},
        }


class CreateImportRequest(BaseModel):
    """Highlights for one asset, to become insight events in Fabric."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "schemaVersion": SCHEMA_VERSION,
                    "asset": {"repo_guid": "demo-repo", "fullPath": "/demo/interview.mov"},
                    "tag": "llm-highlights",
                    "highlights": [
                        {"comment": "The strongest quote.", "start": 84.25, "end": 97.5, "confidenceScore": 92}
                    ],
                }
            ]
        },
    )

    schemaVersion: Literal["sdna.spark.import.v1"]
    asset: ImportAsset
    tag: str | None = Field(None, max_length=100)
    import_job_name: str | None = Field(None, max_length=255)
    highlights: list[Highlight] = Field(min_length=1, max_length=MAX_HIGHLIGHTS)
    priority: Priority = Field(Priority.normal, description="claims take high first; a waiting job rises with age")
