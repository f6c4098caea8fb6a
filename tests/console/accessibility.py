"""axe-core in the console's browser tests: the copy the pinned `axe-playwright-python` package ships.

The script is read from the installed package's folder (never copied into this repository) and run
with `page.evaluate`, which runs outside the page's Content-Security-Policy.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

SERIOUS = {"serious", "critical"}


@cache
def axe_source() -> str:
    """axe.min.js as the pinned `axe-playwright-python` package ships it."""
    return (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


async def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    await page.evaluate(axe_source())
    results = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [violation for violation in results["violations"] if violation.get("impact") in SERIOUS]


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per violation and node, for an assertion message."""
    lines = []
    for violation in violations:
        for node in violation.get("nodes", [])[:5]:
            lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {node.get('target')}")
    return "\n".join(lines)
