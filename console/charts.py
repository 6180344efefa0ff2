"""Small server-rendered SVG charts (no JavaScript, nothing to download): lines and bars."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

COLORS = {"negative": "#c0392b", "neutral": "#7f8c8d", "positive": "#27ae60", "complaints": "#d35400"}
PALETTE = ("#1f4e79", "#d35400", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d")
W, H, PAD_L, PAD_B, PAD_T = 640, 220, 40, 28, 24


def _color(name: str, index: int) -> str:
    return COLORS.get(name, PALETTE[index % len(PALETTE)])


def line_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]],
               markers: Sequence[int] = (), names: dict[str, str] | None = None) -> Markup:
    """Lines per series over the labels (a None is no point); `markers` are label indexes drawn as dashed
    lines (storms); `names` are the legend's words for the series' keys."""
    n = max(len(labels), 1)
    top = max([1.0, *(v for values in series.values() for v in values if v is not None)])
    step = (W - PAD_L - 10) / max(n - 1, 1)

    def x(i: int) -> float:
        return PAD_L + i * step

    def y(v: float) -> float:
        return H - PAD_B - (H - PAD_B - PAD_T) * v / top

    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">',
             f'<text x="{PAD_L}" y="14" class="chart-title">{escape(title)}</text>',
             f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - 10}" y2="{H - PAD_B}" stroke="#bbb"/>',
             f'<text x="{PAD_L - 6}" y="{y(top) + 4:.1f}" text-anchor="end" class="tick">{top:g}</text>',
             f'<text x="{PAD_L - 6}" y="{H - PAD_B + 4}" text-anchor="end" class="tick">0</text>']
    for i in markers:
        parts.append(f'<line x1="{x(i):.1f}" y1="{PAD_T}" x2="{x(i):.1f}" y2="{H - PAD_B}" '
                     'stroke="#d35400" stroke-dasharray="4 3"><title>storm</title></line>')
    every = max(1, n // 8)
    for i, label in enumerate(labels):
        if i % every == 0 or i == n - 1:
            if i != n - 1 and n - 1 - i < every / 2:
                continue  # too close to the last label, which is always shown
            anchor = "start" if i == 0 else "end" if i == n - 1 else "middle"  # the outer labels stay inside
            parts.append(f'<text x="{x(i):.1f}" y="{H - 8}" text-anchor="{anchor}" class="tick">{escape(label)}</text>')
    for index, (name, values) in enumerate(series.items()):
        color, shown = _color(name, index), (names or {}).get(name, name)
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values) if v is not None)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}">'
                     f"<title>{escape(shown)}</title></polyline>")
        parts.append(f'<text x="{W - 10 - 110 + 0}" y="{PAD_T + 14 * index}" fill="{color}" class="legend">'
                     f"{escape(shown)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(title: str, values: dict[str, float], colours: dict[str, str] | None = None) -> Markup:
    """Horizontal bars, one per key (in its own colour where `colours` names one)."""
    top = max([1.0, *values.values()])
    row = 22
    height = PAD_T + row * max(len(values), 1) + 8
    parts = [f'<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="10" y="14" class="chart-title">{escape(title)}</text>']
    if not values:
        parts.append(f'<text x="10" y="{PAD_T + 14}" class="tick">—</text>')
    for index, (name, value) in enumerate(values.items()):
        y = PAD_T + index * row
        width = (W - 220) * value / top
        parts.append(f'<text x="120" y="{y + 14}" text-anchor="end" class="tick">{escape(name)}</text>'
                     f'<rect x="128" y="{y + 2}" width="{width:.1f}" height="{row - 6}" fill="{(colours or {}).get(name) or _color(name, index)}"/>'
                     f'<text x="{134 + width:.1f}" y="{y + 14}" class="tick">{value:g}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
