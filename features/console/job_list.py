"""The console's job list: its filter form read as `GET /jobs` reads the same filter, and the links and
calls the page makes from it (the next page, the poll, the bulk retry)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import QueryParams

from shared.job_search import JobFilter, in_utc_range
from shared.jobs import JobPage, JobStatus
from shared.priority import Priority

KINDS = ("export", "import")
STATUSES = tuple(status.value for status in JobStatus)
PRIORITIES = tuple(priority.value for priority in Priority)
PAGE_SIZES = (25, 50, 100, 200)
BULK_RETRYABLE = ("failed", "cancelled", "partially_completed")  # what `POST /jobs/retry` takes
FILTER_FIELDS = ("kind", "status", "repo_guid", "priority", "created_after", "created_before", "q")
TIME_FIELDS = ("created_after", "created_before")


def parse_time(value: str | None, name: str) -> datetime | None:
    """A time from the filter form: ISO 8601; a `datetime-local` value without a zone is UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} is not a time (use 2026-01-31T12:00)") from None
    try:
        return in_utc_range(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    except ValueError as error:
        raise ValueError(f"{name} {error}") from None


def job_link(kind: str, job_id: str) -> str:
    return f"/console/jobs/{quote(kind, safe='')}/{quote(job_id, safe='')}"


def job_row(summary: dict[str, Any]) -> dict[str, Any]:
    """A job of the list (`shared.job_search.job_summary`, as `GET /jobs` answers it) with its link."""
    return {**summary, "link": job_link(summary["kind"], summary["id"])}


def filter_problems(chosen: dict[str, str], statuses: list[str]) -> list[str]:
    """What is wrong with the list's filter, in the words `GET /jobs` would use (it takes the same)."""
    problems = [
        f"{name} must be one of {', '.join(allowed)}"
        for name, allowed in (("kind", KINDS), ("priority", PRIORITIES))
        if chosen[name] and chosen[name] not in allowed
    ]
    if any(status not in STATUSES for status in statuses):
        problems.append(f"status must be one of {', '.join(STATUSES)}")
    for name, longest in (("repo_guid", 255), ("q", 200)):
        if len(chosen[name]) > longest:
            problems.append(f"{name} is longer than {longest} characters")
        if "\x00" in chosen[name]:
            problems.append(f"{name} must not contain a NUL character")
    return problems


@dataclass
class ListForm:
    """The list's query as the form sent it (`sent`, for the page links), as the form shows it back
    (`chosen`), and as the search takes it; `errors` says what is wrong with it, if anything."""

    sent: list[tuple[str, str]]
    chosen: dict[str, str]
    statuses: list[str]
    times: dict[str, datetime | None]
    limit: int
    cursor: str | None
    errors: list[str] = field(default_factory=list)

    def job_filter(self) -> JobFilter:
        return JobFilter(
            kind=self.chosen["kind"] or None,
            statuses=tuple(self.statuses),
            repo_guid=self.chosen["repo_guid"] or None,
            priority=self.chosen["priority"] or None,
            created_after=self.times["created_after"],
            created_before=self.times["created_before"],
            text=self.chosen["q"] or None,
        )

    def api_filter(self) -> list[tuple[str, str]]:
        """The filter as `GET /jobs` takes it (times with a zone)."""
        pairs = [(name, self.chosen[name]) for name in ("kind", "repo_guid", "priority", "q") if self.chosen[name]]
        pairs += [("status", status) for status in self.statuses]
        return pairs + [(name, moment.isoformat()) for name, moment in self.times.items() if moment is not None]

    def retry_filter(self) -> dict[str, Any]:
        """The same jobs as `POST /jobs/retry` names them (only the statuses it can retry)."""
        chosen = {
            "kind": self.chosen["kind"] or None,
            "repo_guid": self.chosen["repo_guid"] or None,
            "status": [status for status in self.statuses if status in BULK_RETRYABLE] or None,
            "priority": self.chosen["priority"] or None,
            "q": self.chosen["q"] or None,
            **{name: moment.isoformat() if moment else None for name, moment in self.times.items()},
        }
        return {name: value for name, value in chosen.items() if value is not None}


def read_list_form(query: QueryParams) -> ListForm:
    """The list's query string, checked as `GET /jobs` would check it."""
    chosen = {name: query.get(name, "").strip() for name in FILTER_FIELDS}
    statuses = list(dict.fromkeys(status for status in query.getlist("status") if status))
    # Compared as text: "²".isdigit() holds, and int("²") raises.
    chosen_limit = query.get("limit", "")
    limit = int(chosen_limit) if chosen_limit in {str(size) for size in PAGE_SIZES} else PAGE_SIZES[1]
    errors = filter_problems(chosen, statuses)
    times: dict[str, datetime | None] = {}
    for name in TIME_FIELDS:
        try:
            times[name] = parse_time(chosen[name], name)
        except ValueError as error:
            errors.append(str(error))
    for name, moment in times.items():
        if moment is not None:  # shown back as the form's `datetime-local` field takes it, in UTC
            chosen[name] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    sent = [(name, value) for name, value in query.multi_items() if name in (*FILTER_FIELDS, "limit") and value]
    return ListForm(sent, chosen, statuses, times, limit, query.get("cursor") or None, errors)


def list_context(form: ListForm, result: JobPage | None) -> dict[str, Any]:
    """What `jobs.html` shows of a list: the form, the rows, the page links, the poll and the retry."""
    next_link = None
    if result is not None and result.next_cursor:
        next_link = "/console/jobs?" + urlencode([*form.sent, ("cursor", result.next_cursor)])
    cursor = [("cursor", form.cursor)] if form.cursor else []
    page_query = [*form.api_filter(), ("limit", str(form.limit)), *cursor, ("live", "true")]
    statuses = form.statuses
    return {
        "chosen": form.chosen,
        "statuses_chosen": statuses,
        "limit": form.limit,
        "errors": form.errors,
        "rows": [job_row(document) for document in result.jobs] if result else [],
        "total": result.total if result else None,
        "next_link": next_link,
        "first_link": "/console/jobs?" + urlencode(form.sent) if form.cursor else None,
        "api_url": None if form.errors else "/jobs?" + urlencode(page_query),
        "retry_filter": form.retry_filter(),
        # A bulk retry acts on the list's jobs: not offered when the list shows none it could retry.
        "bulk_retry": not form.errors and (not statuses or any(status in BULK_RETRYABLE for status in statuses)),
    }
