"""Bar charts as inline SVG, drawn on the server: no JavaScript, no CDN, printable.

Every text in the picture goes through ``format_html`` (escaped); each bar carries a
``<title>`` the browser shows as a tooltip.
"""

from collections.abc import Sequence
from datetime import date

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core.money import format_yuan

WIDTH = 720
HEIGHT = 180
LEFT = 70  # room for the axis labels
RIGHT = 20  # room for the last day's label
BOTTOM = 22
TOP = 10


def bar_chart(
    *, title: str, days: Sequence[date], values: Sequence[int], color: str = "#417690"
) -> SafeString:
    """One bar per day (fen values, negative bars hang below the zero line)."""
    count = max(len(values), 1)
    top_value = max([0, *values])
    bottom_value = min([0, *values])
    # An all-zero series keeps its zero line at the bottom, like any other.
    scale_top = top_value if (top_value or bottom_value) else 1
    span = scale_top - bottom_value
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / count
    bar_width = max(slot * 0.8, 1)

    def y(value: int) -> float:
        return TOP + (scale_top - value) / span * plot_height

    zero = y(0)
    bars = []
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        x = LEFT + index * slot + (slot - bar_width) / 2
        top = min(y(value), zero)
        height = max(abs(y(value) - zero), 0.5 if value else 0)
        fill = color if value >= 0 else "#ba2121"
        bars.append(
            (
                f"{x:.1f}",
                f"{top:.1f}",
                f"{bar_width:.1f}",
                f"{height:.1f}",
                fill,
                f"{day:%Y-%m-%d}: {format_yuan(value, grouping=True)}",
            )
        )
    labels = [
        (f"{LEFT + index * slot + slot / 2:.1f}", f"{HEIGHT - 6}", f"{day:%m-%d}")
        for index, day in enumerate(days)
        if index % 5 == 0 or index == len(days) - 1
    ]
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="kpay-chart" role="img" viewBox="0 0 {w} {h}" '
        'width="100%" style="max-width:{w}px" aria-label="{title}">'
        "<title>{title}</title>"
        '<line x1="{left}" x2="{right}" y1="{zero}" y2="{zero}" stroke="#999" stroke-width="1"/>'
        '<text x="{label_x}" y="{top_y}" text-anchor="end" font-size="11" fill="#666">{top_label}</text>'
        '<text x="{label_x}" y="{zero_y}" text-anchor="end" font-size="11" fill="#666">0</text>'
        '<text x="{label_x}" y="{bottom_y}" text-anchor="end" font-size="11" fill="#666">'
        "{bottom_label}</text>"
        "{bars}{labels}</svg>",
        w=WIDTH,
        h=HEIGHT,
        title=title,
        left=LEFT,
        right=WIDTH - RIGHT,
        zero=f"{zero:.1f}",
        label_x=LEFT - 6,
        top_y=f"{TOP + 10:.1f}",
        # An all-zero series has only its zero line (no second label on top of "0").
        top_label=format_yuan(top_value, grouping=True) if top_value > 0 else "",
        zero_y=f"{zero + 4:.1f}",
        bottom_y=f"{HEIGHT - BOTTOM:.1f}",
        bottom_label=format_yuan(bottom_value, grouping=True) if bottom_value < 0 else "",
        bars=format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
            bars,
        ),
        labels=format_html_join(
            "", '<text x="{}" y="{}" text-anchor="middle" font-size="10" fill="#666">{}</text>', labels
        ),
    )
