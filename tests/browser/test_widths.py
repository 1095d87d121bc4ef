"""Every page fits its users' screens: citizens' phones from 360 to 414 px, staff desks at 1280.

Nothing scrolls sideways but what scrolls in its own box, and on a phone the header leaves the
screen to the page. With TIRKEU_SCREENSHOT_DIR set (`make screenshots`), the README's pages are
saved there in each language.
"""

import pytest

from .tour import CITIZENS, LANGUAGES, PHONE, ROLES, VISITOR

PHONE_WIDTHS = (360, 390, 414)
# At most this share of a phone's height for the header (it took a quarter before).
HEADER_SHARE = 0.12
MEASURE = """() => ({
  scroll: document.scrollingElement.scrollWidth,
  inner: window.innerWidth,
  header: document.querySelector('header').getBoundingClientRect().height,
})"""


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", (VISITOR, *ROLES))
def test_no_page_of_the_role_scrolls_sideways_on_its_screens(
    tour, browser, screenshot, role, language
):
    page = tour.open(browser, role, language)
    screen = tour.width(role)
    widths = PHONE_WIDTHS if role in (*CITIZENS, VISITOR) else (screen["width"],)
    wide, tall = [], []
    for visit in tour.visits[role]:
        tour.go(page, visit)
        for width in widths:
            page.set_viewport_size({"width": width, "height": screen["height"]})
            sizes = page.evaluate(MEASURE)
            if sizes["scroll"] > sizes["inner"]:
                wide.append(f"{visit.name} at {width} px: {sizes['scroll']} px wide")
            if width < 640 and sizes["header"] > HEADER_SHARE * screen["height"]:
                tall.append(f"{visit.name} at {width} px: header {sizes['header']} px")
        page.set_viewport_size(screen)
        if visit.picture:
            screenshot(page, f"{visit.picture}-{language}", full_page=role in CITIZENS)
    page.context.close()
    assert (wide, tall) == ([], [])


# The task lists a clerk or a supervisor may open on a phone between desks.
STAFF_LISTS = {"clerk": ("tasks", "queue"), "supervisor": ("tasks", "office")}
CELL_DISPLAYS = "cells => [...new Set(cells.map(cell => getComputedStyle(cell).display))]"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", tuple(STAFF_LISTS))
def test_staff_task_lists_show_each_task_as_a_card_on_a_phone(tour, browser, role, language):
    """Seven columns squeezed into 390 px broke names and labels mid-word: on a phone each task
    is a card of labelled lines instead, and nothing scrolls sideways."""
    page = tour.open(browser, role, language, viewport=PHONE)
    problems, shown = [], []
    for visit in tour.visits[role]:
        if visit.name not in STAFF_LISTS[role]:
            continue
        tour.go(page, visit)
        sizes = page.evaluate(MEASURE)
        if sizes["scroll"] > sizes["inner"]:
            problems.append(f"{visit.name}: {sizes['scroll']} px wide")
        displays = page.eval_on_selector_all("table.tasks tbody td", CELL_DISPLAYS)
        shown += displays
        if displays not in ([], ["flex"]):
            problems.append(f"{visit.name}: task cells shown as {displays}")
    page.context.close()
    assert shown and problems == []
