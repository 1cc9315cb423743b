"""`replenish evaluate --chart FILE.svg`: the report's margins as a forest plot.

One row per margin the report prints (the learned model against the best simple rule, and against the rule a
target names where that is another one): a dot at the margin and a line across its 95% bootstrap interval,
on one axis where right is better (points for rates; for the timing MAE, percent less error). Green: the
interval is all on the better side; red: all on the worse side; grey: it spans zero, so the sample cannot
tell the two apart. Plain SVG (no chart library), as the dashboard draws its charts.
"""
from __future__ import annotations

import math
from html import escape

from replenish.recommend.evaluate import Margin, Report, margins

WIDTH = 820
LABEL_W = 330   # the row labels
PLOT_W = 300    # the axis
ROW_H = 34
TOP = 58        # title and tick labels
BOTTOM = 44     # axis caption
COLOURS = {"better": "#1b7f4f", "worse": "#b3261e", "unclear": "#6b6b6b"}


def _step(span: float) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving five to ten ticks over ``span``."""
    raw = span / 6 if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _plotted(m: Margin) -> tuple[float, float, float]:
    """(value, low, high) with right as better: an MAE margin (negative is better) is turned around. Only
    for margins with an interval."""
    low, high = float(m.low if m.low is not None else m.value), float(m.high if m.high is not None else m.value)
    return (-m.value, -high, -low) if m.lower_is_better else (m.value, low, high)


def _label(m: Margin) -> tuple[str, str]:
    """What is measured, and against which rule."""
    return f"{m.section}: {m.metric}", f"vs {m.rule}" + (" (the target's rule)" if m.target else "")


def _verdict(low: float, high: float) -> str:
    return "better" if low > 0 else "worse" if high < 0 else "unclear"


def forest_svg(report: Report, title: str) -> str:
    """The chart as an SVG document (an empty string when the report has no margin with an interval)."""
    rows = [m for m in margins(report) if m.low is not None and m.high is not None]
    if not rows:
        return ""
    spans = [_plotted(m) for m in rows]
    lo = min(0.0, *(s[1] for s in spans))
    hi = max(0.0, *(s[2] for s in spans))
    step = _step(hi - lo)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    x0 = LABEL_W + 10

    def x(v: float) -> float:
        return round(x0 + (v - lo) / (hi - lo) * PLOT_W, 1)

    height = TOP + ROW_H * len(rows) + BOTTOM
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
           f'height="{height}" role="img" aria-labelledby="t d" font-family="sans-serif" font-size="12">',
           f'<title id="t">{escape(title)}</title>',
           '<desc id="d">Each row: the learned model\'s margin over a simple rule (dot) and its 95% bootstrap '
           'interval (line); right of zero is better. Green: better on every resample; grey: the sample cannot '
           'tell them apart; red: worse.</desc>',
           f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
           f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>']
    ticks = [lo + i * step for i in range(int(round((hi - lo) / step)) + 1)]
    for t in ticks:
        out.append(f'<line x1="{x(t)}" x2="{x(t)}" y1="{TOP - 12}" y2="{TOP + ROW_H * len(rows)}" '
                   f'stroke="{"#333333" if t == 0 else "#e2e2e2"}"/>')
        tick = f"{t:+g}" if t else "0"
        out.append(f'<text x="{x(t)}" y="{TOP - 16}" text-anchor="middle" fill="#444444">{tick}</text>')
    for i, (m, (v, low, high)) in enumerate(zip(rows, spans, strict=True)):
        y = TOP + ROW_H * i + ROW_H / 2
        verdict = _verdict(low, high)
        colour = COLOURS[verdict]
        unit = "% less error" if m.lower_is_better else " pt"
        out.append(f'<g class="row {verdict}">')
        what, against = _label(m)
        out.append(f'<text x="{LABEL_W}" y="{y - 2}" text-anchor="end">{escape(what)}</text>')
        out.append(f'<text x="{LABEL_W}" y="{y + 12}" text-anchor="end" font-size="11" fill="#666666">'
                   f'{escape(against)}</text>')
        out.append(f'<line class="interval" x1="{x(low)}" x2="{x(high)}" y1="{y}" y2="{y}" stroke="{colour}" '
                   f'stroke-width="3"/>')
        out.append(f'<circle class="margin" cx="{x(v)}" cy="{y}" r="5" fill="{colour}">'
                   f'<title>{escape(f"{v:+.1f}{unit}, 95% interval {low:+.1f} to {high:+.1f}")}</title></circle>')
        out.append(f'<text x="{x0 + PLOT_W + 10}" y="{y + 4}" fill="#222222">{v:+.1f} '
                   f'<tspan fill="#666666">({low:+.1f} to {high:+.1f})</tspan></text>')
        out.append('</g>')
    out.append(f'<text x="{x0 + PLOT_W / 2}" y="{height - 14}" text-anchor="middle" fill="#444444">'
               'learned better by (points; timing: % less error) -&gt;</text>')
    out.append('</svg>')
    return "\n".join(out) + "\n"
