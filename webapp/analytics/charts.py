"""Server-side SVG bar charts for the dashboard, readable without any script."""

from collections.abc import Callable, Sequence
from html import escape

ROW = 22
BAR_GAP = 2
LABEL_WIDTH = 190
PLOT_WIDTH = 420
VALUE_WIDTH = 140
# Colours told apart by people with the common colour-vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9")


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    stacked: bool = False,
    unit: Callable[[float], str] = lambda value: f"{value:g}",
) -> str:
    """Return a horizontal bar chart: one row per category, a bar (or a segment) per series."""
    per_row = 1 if stacked else len(series)
    row_height = per_row * (ROW // 2 + BAR_GAP) + ROW // 2
    totals = [
        sum(values[i] for _, values in series) if stacked else max(v[i] for _, v in series)
        for i in range(len(categories))
    ]
    top = max(totals, default=0) or 1
    legend_height = ROW if len(series) > 1 else 0
    height = legend_height + row_height * len(categories) + BAR_GAP
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        f"<title>{escape(title)}</title>",
    ]
    if len(series) > 1:
        x = LABEL_WIDTH
        for index, (name, _values) in enumerate(series):
            colour = PALETTE[index % len(PALETTE)]
            parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{colour}"/>')
            parts.append(f'<text x="{x + 14}" y="13" font-size="11">{escape(name)}</text>')
            x += 24 + 7 * len(name)
    for row, category in enumerate(categories):
        y = legend_height + row * row_height
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + ROW // 2 + 2}" font-size="12" '
            f'text-anchor="end">{escape(category)}</text>'
        )
        offset = 0.0
        for index, (name, values) in enumerate(series):
            value = values[row]
            length = PLOT_WIDTH * value / top
            bar_y = y + (0 if stacked else index * (ROW // 2 + BAR_GAP)) + BAR_GAP
            x = LABEL_WIDTH + (offset if stacked else 0)
            parts.append(
                f'<rect x="{x:.1f}" y="{bar_y}" width="{length:.1f}" height="{ROW // 2}" '
                f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(category)}, '
                f"{escape(name)}: {escape(unit(value))}</title></rect>"
            )
            if stacked:
                offset += length
        parts.append(
            f'<text x="{LABEL_WIDTH + PLOT_WIDTH + 6}" y="{y + ROW // 2 + 2}" font-size="11">'
            f"{escape(' / '.join(unit(values[row]) for _, values in series))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
