"""Server-side SVG bar charts for the dashboard, readable without any script.

No text is ever cut: label widths are estimated from their characters, a category label
longer than LABEL_MAX wraps onto more lines (its row grows), and the label and value columns
are as wide as their longest text.
"""

import unicodedata
from collections.abc import Callable, Sequence
from html import escape

ROW = 22
LINE = 14
BAR_GAP = 2
LABEL_FONT = 12
VALUE_FONT = 11
LABEL_MIN = 60
LABEL_MAX = 240
PLOT_WIDTH = 420
PAD = 6
# Colours told apart by people with the common colour-vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9")
# The charts draw in this face (or the reader's sans-serif); the advances below, in em, are a
# little over its: narrow, wide, other Latin and other letters (Cyrillic, Kazakh) apart.
FONT = "DejaVu Sans, Verdana, sans-serif"
NARROW = set("iljtf.,:;'!|() ·")
WIDE = set("mwMW@%ШЩЖЮМЫФшщжюмыфҚқ")


def text_width(text: str, size: int) -> float:
    """Return an estimate, a little generous, of the width in pixels of text in a sans font."""
    em = 0.0
    for char in text:
        if char in NARROW:
            em += 0.32
        elif char in WIDE:
            em += 0.9
        elif unicodedata.east_asian_width(char) in ("W", "F"):
            em += 1.0
        elif char.isupper():
            em += 0.75
        elif char.isascii():
            em += 0.62
        else:
            em += 0.7
    return em * size


def wrap(text: str, width: float, size: int) -> list[str]:
    """Return text broken at spaces into lines no wider than width (a long word stays whole)."""
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(f"{lines[-1]} {word}", size) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    stacked: bool = False,
    unit: Callable[[float], str] = lambda value: f"{value:g}",
) -> str:
    """Return a horizontal bar chart: one row per category, a bar (or a segment) per series."""
    labels = [wrap(category, LABEL_MAX, LABEL_FONT) for category in categories]
    label_width = PAD + max(
        [LABEL_MIN, *(text_width(line, LABEL_FONT) for lines in labels for line in lines)]
    )
    values = [" / ".join(unit(v[row]) for _, v in series) for row in range(len(categories))]
    value_width = 2 * PAD + max([0.0, *(text_width(text, VALUE_FONT) for text in values)])
    bars_height = (1 if stacked else len(series)) * (ROW // 2 + BAR_GAP) + ROW // 2
    heights = [max(bars_height, len(lines) * LINE + BAR_GAP * 2) for lines in labels]
    totals = [
        sum(v[i] for _, v in series) if stacked else max(v[i] for _, v in series)
        for i in range(len(categories))
    ]
    top = max(totals, default=0) or 1
    legend_height = ROW if len(series) > 1 else 0
    height = legend_height + sum(heights) + BAR_GAP
    legend_width = sum(24 + text_width(name, VALUE_FONT) for name, _ in series)
    width = label_width + max(PLOT_WIDTH, legend_width) + value_width
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width:.0f} {height}" width="{width:.0f}" height="{height}" '
        f'font-family="{FONT}">',
        f"<title>{escape(title)}</title>",
    ]
    if len(series) > 1:
        x = label_width
        for index, (name, _values) in enumerate(series):
            colour = PALETTE[index % len(PALETTE)]
            parts.append(f'<rect x="{x:.1f}" y="4" width="10" height="10" fill="{colour}"/>')
            parts.append(
                f'<text x="{x + 14:.1f}" y="13" font-size="{VALUE_FONT}">{escape(name)}</text>'
            )
            x += 24 + text_width(name, VALUE_FONT)
    y = legend_height
    for row, lines in enumerate(labels):
        middle = y + heights[row] / 2
        first = middle - (len(lines) - 1) * LINE / 2 + 4
        parts.append(
            f'<text x="{label_width - PAD:.1f}" y="{first:.1f}" font-size="{LABEL_FONT}" '
            f'text-anchor="end">'
            + "".join(
                f'<tspan x="{label_width - PAD:.1f}" dy="{0 if n == 0 else LINE}">'
                f"{escape(line)}</tspan>"
                for n, line in enumerate(lines)
            )
            + "</text>"
        )
        offset = 0.0
        bars_top = middle - bars_height / 2
        for index, (name, values_of) in enumerate(series):
            value = values_of[row]
            length = PLOT_WIDTH * value / top
            bar_y = bars_top + (0 if stacked else index * (ROW // 2 + BAR_GAP)) + BAR_GAP
            x = label_width + (offset if stacked else 0)
            parts.append(
                f'<rect x="{x:.1f}" y="{bar_y:.1f}" width="{length:.1f}" height="{ROW // 2}" '
                f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(categories[row])}, '
                f"{escape(name)}: {escape(unit(value))}</title></rect>"
            )
            if stacked:
                offset += length
        parts.append(
            f'<text x="{label_width + PLOT_WIDTH + PAD:.1f}" y="{middle + 4:.1f}" '
            f'font-size="{VALUE_FONT}">{escape(values[row])}</text>'
        )
        y += heights[row]
    parts.append("</svg>")
    return "".join(parts)
