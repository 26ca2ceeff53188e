"""axe-core in a Playwright page: the accessibility violations by impact.

axe.min.js is vendored at setup from npm (``scripts/vendor_frontend.sh``) and served by
the gateway at /static/vendor/, so it loads under the pages' CSP (script-src 'self')."""

from __future__ import annotations

from collections import Counter
from typing import Any

from playwright.sync_api import Page


def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("() => Boolean(window.axe)"):
        page.add_script_tag(url="/static/vendor/axe.min.js")
    result = page.evaluate(
        "() => axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']})"
    )
    return list(result["violations"])


def counts(violations: list[dict[str, Any]]) -> dict[str, int]:
    """Violating nodes per impact (``critical``, ``serious``, ``moderate``, ``minor``)."""
    tally: Counter[str] = Counter()
    for v in violations:
        tally[str(v["impact"])] += len(v["nodes"])
    return dict(tally)


def serious(violations: list[dict[str, Any]]) -> list[str]:
    """``rule-id: target`` of every serious or critical violation (empty = clean)."""
    return [
        f"{v['id']}: {node['target']}"
        for v in violations
        if v["impact"] in ("serious", "critical")
        for node in v["nodes"]
    ]
