"""Small server-side SVG charts for the staff pages: no script, readable printed."""

from __future__ import annotations

from markupsafe import Markup, escape

W, H, PAD = 640, 220, 36


def line_chart(title: str, series: dict[str, list[float | None]], unit: str,
               labels: list[str] | None = None, top: float | None = None) -> Markup:
    """Lines over rep number (1..n), or over `labels` (a label's lines, split at
    a newline, stack under the axis); None leaves a gap. The axis runs from 0
    to `top` (default: a little over the largest value). Black and grey, for
    print."""
    values = [v for vs in series.values() for v in vs if v is not None]
    n = max((len(vs) for vs in series.values()), default=0)
    if not values or n == 0:
        return Markup(f'<p class="chart-empty">{escape(title)}: no reps</p>')
    top = (top or max(values)) * 1.1 or 1.0
    x = (lambda i: PAD + (W - 2 * PAD) * (i / max(n - 1, 1)))  # noqa: E731
    y = (lambda v: H - PAD - (H - 2 * PAD) * (v / top))  # noqa: E731
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<text x="{PAD}" y="18" font-size="14">{escape(title)} ({escape(unit)})</text>',
             f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#000"/>',
             f'<text x="{PAD - 4}" y="{y(top / 1.1) + 4:.0f}" font-size="11" '
             f'text-anchor="end">{top / 1.1:.0f}</text>',
             f'<text x="{PAD - 4}" y="{H - PAD + 4}" font-size="11" text-anchor="end">0</text>']
    for k, (name, vs) in enumerate(series.items()):
        color, dash = ("#000", "") if k == 0 else ("#777", ' stroke-dasharray="6 4"')
        pts = [(x(i), y(v)) for i, v in enumerate(vs) if v is not None]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} '
                     f'points="{path}" data-series="{escape(name)}"/>')
        parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"/>' for px, py in pts]
        parts.append(f'<text x="{W - PAD}" y="{18 + 16 * k}" font-size="12" fill="{color}" '
                     f'text-anchor="end">{escape(name)}</text>')
    step = max(1, n // 12)  # at most a dozen labels under the axis
    for i in range(0, n, step):
        label = labels[i] if labels else str(i + 1)
        # A label's lines ("07 Dec\n14:05") stack under the axis, each centred.
        lines = "".join(f'<tspan x="{x(i):.1f}" dy="{0 if k == 0 else 12}">{escape(line)}</tspan>'
                        for k, line in enumerate(label.split("\n")))
        parts.append(f'<text x="{x(i):.1f}" y="{H - PAD + 16}" font-size="11" '
                     f'text-anchor="middle">{lines}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(title: str, bars: dict[str, int]) -> Markup:
    """Horizontal bars, one per label."""
    if not bars:
        return Markup(f'<p class="chart-empty">{escape(title)}: none</p>')
    top = max(bars.values()) or 1
    h = PAD + 24 * len(bars)
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {W} {h}" width="{W}" height="{h}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<text x="{PAD}" y="18" font-size="14">{escape(title)}</text>']
    for k, (label, v) in enumerate(bars.items()):
        yy = 30 + 24 * k
        width = (W - 260) * v / top
        parts += [f'<text x="200" y="{yy + 14}" font-size="12" text-anchor="end">'
                  f'{escape(label)}</text>',
                  f'<rect x="210" y="{yy}" width="{width:.1f}" height="18" fill="#444"/>',
                  f'<text x="{214 + width:.1f}" y="{yy + 14}" font-size="12">{v}</text>']
    parts.append("</svg>")
    return Markup("".join(parts))


def skeleton_svg(framing: dict | None, width: int = 480) -> Markup:
    """The camera's frame as a blank box with the live skeleton drawn in it (no
    picture), so that whoever mounts the camera can aim it."""
    from device.core.skeleton import BONES

    aspect = float((framing or {}).get("aspect") or 4 / 3)
    w, h = width, round(width / aspect)
    points = (framing or {}).get("skeleton")
    parts = [f'<svg class="framing" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>Framing check</title>',
             f'<rect x="1" y="1" width="{w - 2}" height="{h - 2}" fill="#f4f4f4" stroke="#000"/>']
    if points:
        xy = [None if p is None else (p[0] * w, p[1] * h) for p in points]
        for a, b in BONES:
            if xy[a] and xy[b]:
                parts.append(f'<line x1="{xy[a][0]:.0f}" y1="{xy[a][1]:.0f}" x2="{xy[b][0]:.0f}" '
                             f'y2="{xy[b][1]:.0f}" stroke="#000" stroke-width="4"/>')
        parts += [f'<circle cx="{p[0]:.0f}" cy="{p[1]:.0f}" r="5" fill="#000"/>'
                  for p in xy if p]
    else:
        parts.append(f'<text x="{w / 2:.0f}" y="{h / 2:.0f}" font-size="20" '
                     'text-anchor="middle">Nobody in view</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
