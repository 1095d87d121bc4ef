"""The dashboard's SVG charts: well-formed, one bar per category and series, lengths to scale."""

from lxml import etree

from webapp.analytics.charts import LABEL_FONT, LABEL_MAX, PLOT_WIDTH, bar_chart, text_width

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
    assert float(working.get("x")) == float(waiting.get("x")) + PLOT_WIDTH / 4
    assert "Check &lt;documents&gt;" in svg


def test_empty_chart_is_still_an_image():
    assert bars(bar_chart("Nothing", [], [("count", [])])) == []


def test_a_long_label_wraps_onto_lines_that_fit_left_of_the_bars():
    label = "Проверка документов заявителя и согласия собственника жилища · registration"
    svg = etree.fromstring(bar_chart("Split", [label, "short"], [("n", [1, 2])]).encode())
    lines = [t.text for t in svg.iter(f"{SVG}tspan")]
    assert len(lines) > 2
    assert " ".join(lines[:-1]) == label
    bar_x = float(bars(etree.tostring(svg).decode())[0].get("x"))
    for line in lines:
        assert text_width(line, LABEL_FONT) <= min(LABEL_MAX, bar_x)


def test_the_value_column_is_as_wide_as_its_longest_text():
    series = [("p50", [1]), ("p90", [2]), ("p99", [3])]
    chart = bar_chart("Lead", ["all"], series, unit=lambda v: f"{v:.1f} hours")
    svg = etree.fromstring(chart.encode())
    width = float(svg.get("viewBox").split()[2])
    value = [t for t in svg.iter(f"{SVG}text") if "hours" in (t.text or "")][0]
    assert float(value.get("x")) + text_width(value.text, 11) <= width
