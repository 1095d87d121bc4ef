"""Every page of every role, in each language, has no serious or critical axe-core violation.

axe-core is vendored for these tests only (scripts/vendor.py checks it by hash); the tests add
the vendored file to each page they open, and no page of the product loads it.
"""

import pytest

from .diagram_pages import REPO_ROOT
from .tour import LANGUAGES, ROLES, VISITOR

# Added as an init script, which the browser runs in each document before the page's own: the
# pages' Content-Security-Policy allows no inline script, and a script tag added later races
# with the CSP reports that diagram pages make.
AXE = REPO_ROOT / "webapp" / "web" / "static" / "vendor" / "axe-core" / "axe.min.js"
SEVERE = ("serious", "critical")
# Rules about WCAG 2.1 A and AA, and the best practices every page should follow.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def severe_violations(page) -> list[str]:
    """Run axe-core on the page; return its serious and critical findings, one line each."""
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in SEVERE
    ]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", (VISITOR, *ROLES))
def test_no_page_of_the_role_has_a_serious_accessibility_violation(tour, browser, role, language):
    page = tour.open(browser, role, language)
    page.add_init_script(path=AXE)
    found = {}
    for visit in tour.visits[role]:
        tour.go(page, visit)
        problems = severe_violations(page)
        if problems:
            found[visit.name] = problems
    page.context.close()
    assert found == {}
