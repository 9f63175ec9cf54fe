"""axe-core (node_modules/axe-core, served from disk, no CDN) run inside a Playwright page.

``check(page)`` injects axe into the page as it stands and returns its serious and critical
findings (WCAG 2.0-2.2 A and AA rules, plus axe's best practices), each as one readable line:
rule, impact, help text and the offending elements' selectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def findings(page: Any) -> list[str]:
    """The page's serious and critical axe violations, one line each (empty when none)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        TAGS,
    )
    lines = []
    for violation in result["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:6]]
        more = len(violation["nodes"]) - len(targets)
        lines.append(
            f"{page.url}: {violation['id']} ({violation['impact']}): {violation['help']} "
            f"at {', '.join(targets)}" + (f" and {more} more" if more > 0 else "")
        )
    return lines
