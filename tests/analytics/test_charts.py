"""The dashboard's SVG charts: well-formed, one bar per category and series, lengths to scale."""

from lxml import etree

from webapp.analytics.charts import LABEL_WIDTH, PLOT_WIDTH, bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[etree._Element]:
    """Return the bars of a chart: the rectangles that carry a tooltip."""
    return etree.fromstring(svg.encode()).findall(f"{SVG}rect[{SVG}title]")


def test_grouped_chart_draws_a_bar_per_category_and_series_scaled_to_the_longest():
    svg = bar_chart("Per day", ["2 Nov", "3 Nov"], [("started", [3, 3]), ("finished", [3, 2])])
    widths = [float(bar.get("width")) for bar in bars(svg)]
    assert widths == [PLOT_WIDTH, PLOT_WIDTH, PLOT_WIDTH, PLOT_WIDTH * 2 / 3]
    assert etree.fromstring(svg.encode()).find(f"{SVG}title").text == "Per day"


def test_stacked_chart_puts_segments_end_to_end():
    svg = bar_chart("Split", ["Check <documents>"], [("waiting", [1]), ("working", [3])], True)
    waiting, working = bars(svg)
    assert float(waiting.get("x")) == LABEL_WIDTH
    assert float(working.get("x")) == LABEL_WIDTH + PLOT_WIDTH / 4
    assert "Check &lt;documents&gt;" in svg


def test_empty_chart_is_still_an_image():
    assert bars(bar_chart("Nothing", [], [("count", [])])) == []
