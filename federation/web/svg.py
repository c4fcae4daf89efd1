"""Server-side SVG plots: a trajectory against its envelope, and small bar/box charts.

Hand-written SVG (no plotting library at request time): a few kilobytes per plot, rendered
in well under a millisecond, crisp at any zoom, and nothing for the browser to fetch.
Gaps (``None``/NaN) break lines and bands, as they should: no band is drawn where the
envelope does not define one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

Number = float | int | None

_W, _H = 640, 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 12, 14, 34


def _ok(x: Number) -> bool:
    return x is not None and math.isfinite(x)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= step * factor:
            step *= factor
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.2e}"


class _Frame:
    def __init__(self, xs: Sequence[float], ys: Sequence[float]) -> None:
        self.x0, self.x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
        self.y0, self.y1 = (min(ys), max(ys)) if ys else (0.0, 1.0)
        if self.x1 == self.x0:
            self.x1 = self.x0 + 1
        pad = (self.y1 - self.y0) * 0.05 or abs(self.y0) * 0.05 or 1.0
        self.y0, self.y1 = self.y0 - pad, self.y1 + pad

    def x(self, v: float) -> float:
        return _LEFT + (v - self.x0) / (self.x1 - self.x0) * (_W - _LEFT - _RIGHT)

    def y(self, v: float) -> float:
        return _TOP + (self.y1 - v) / (self.y1 - self.y0) * (_H - _TOP - _BOTTOM)

    def axes(self, x_label: str, y_label: str) -> list[str]:
        out = [f'<rect x="{_LEFT}" y="{_TOP}" width="{_W - _LEFT - _RIGHT}" '
               f'height="{_H - _TOP - _BOTTOM}" class="frame"/>']
        for t in _ticks(self.x0, self.x1):
            px = self.x(t)
            out.append(f'<line x1="{px:.1f}" y1="{_H - _BOTTOM}" x2="{px:.1f}" '
                       f'y2="{_H - _BOTTOM + 4}" class="tick"/>'
                       f'<text x="{px:.1f}" y="{_H - _BOTTOM + 15}" class="tl">{_fmt(t)}</text>')
        for t in _ticks(self.y0, self.y1):
            py = self.y(t)
            out.append(f'<line x1="{_LEFT - 4}" y1="{py:.1f}" x2="{_W - _RIGHT}" y2="{py:.1f}" '
                       f'class="grid"/><text x="{_LEFT - 6}" y="{py + 3:.1f}" '
                       f'class="tl" text-anchor="end">{_fmt(t)}</text>')
        out.append(f'<text x="{(_LEFT + _W - _RIGHT) / 2}" y="{_H - 4}" class="al">'
                   f'{escape(x_label)}</text>')
        out.append(f'<text x="12" y="{(_TOP + _H - _BOTTOM) / 2}" class="al" '
                   f'transform="rotate(-90 12 {(_TOP + _H - _BOTTOM) / 2})">'
                   f'{escape(y_label)}</text>')
        return out

    def path(self, xs: Sequence[Number], ys: Sequence[Number]) -> str:
        parts, pen_down = [], False
        for x, y in zip(xs, ys, strict=True):
            if not (_ok(x) and _ok(y)):
                pen_down = False
                continue
            parts.append(f"{'L' if pen_down else 'M'}{self.x(x):.1f},{self.y(y):.1f}")
            pen_down = True
        return " ".join(parts)

    def band(self, xs: Sequence[Number], lo: Sequence[Number], hi: Sequence[Number]) -> list[str]:
        """One polygon per run of points where the band is defined."""
        runs: list[list[tuple[float, float, float]]] = [[]]
        for x, a, b in zip(xs, lo, hi, strict=True):
            if _ok(x) and _ok(a) and _ok(b):
                runs[-1].append((x, a, b))
            elif runs[-1]:
                runs.append([])
        polys = []
        for run in runs:
            if len(run) < 2:
                continue
            upper = [f"{self.x(x):.1f},{self.y(b):.1f}" for x, _, b in run]
            lower = [f"{self.x(x):.1f},{self.y(a):.1f}" for x, a, _ in reversed(run)]
            polys.append(f'<polygon points="{" ".join(upper + lower)}" class="band"/>')
        return polys


def trajectory(title: str, unit: str, t: Sequence[Number], v: Sequence[Number],
               env_t: Sequence[Number] = (), lower: Sequence[Number] = (),
               mean: Sequence[Number] = (), upper: Sequence[Number] = (),
               spans: Sequence[tuple[float, float]] = ()) -> str:
    """A batch's series (line) over its envelope (band + mean); ``spans`` shade events."""
    xs = [x for x in (*t, *env_t) if _ok(x)]
    ys = [y for y in (*v, *lower, *upper) if _ok(y)]
    frame = _Frame(xs, ys)
    body = frame.axes("hours since batch start", f"{title} ({unit})" if unit else title)
    for start, end in spans:
        x0, x1 = frame.x(max(start, frame.x0)), frame.x(min(end, frame.x1))
        body.append(f'<rect x="{x0:.1f}" y="{_TOP}" width="{max(x1 - x0, 1):.1f}" '
                    f'height="{_H - _TOP - _BOTTOM}" class="event"/>')
    body += frame.band(env_t, lower, upper)
    if mean:
        body.append(f'<path d="{frame.path(env_t, mean)}" class="mean"/>')
    body.append(f'<path d="{frame.path(t, v)}" class="series"/>')
    return _svg(title, body)


def bars(title: str, labels: Sequence[str], values: Sequence[float], unit: str = "") -> str:
    """Horizontal bars, one per label (e.g. batches per site, titre per site)."""
    height = 22 * len(labels) + 30
    top = max([abs(v) for v in values if _ok(v)] or [1.0])
    rows = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 14 + 22 * i
        width = 0 if not _ok(value) else abs(value) / top * (_W - 260)
        text = "n/a" if not _ok(value) else f"{_fmt(value)} {unit}".strip()
        rows.append(f'<text x="150" y="{y + 12}" class="tl" text-anchor="end">'
                    f'{escape(str(label))}</text><rect x="156" y="{y}" width="{width:.1f}" '
                    f'height="16" class="bar"/><text x="{160 + width:.1f}" y="{y + 12}" '
                    f'class="tl">{escape(text)}</text>')
    return _svg(title, rows, height)


def strips(title: str, unit: str, groups: dict[str, Sequence[Number]],
           bands: dict[str, tuple[float, float]] | None = None) -> str:
    """One row per group (site): each value a dot, the mean a bar, a band behind if given."""
    bands = bands or {}
    labels = list(groups)
    values = [v for vs in groups.values() for v in vs if _ok(v)]
    values += [x for lo_hi in bands.values() for x in lo_hi if _ok(x)]
    frame = _Frame(values, [0.0, 1.0])
    height = 26 * len(labels) + 50
    body = [f'<text x="{_LEFT}" y="12" class="pt">'
            f'{escape(title)}{f" ({escape(unit)})" if unit else ""}</text>']
    for t in _ticks(frame.x0, frame.x1):
        px = frame.x(t)
        body.append(f'<line x1="{px:.1f}" y1="18" x2="{px:.1f}" y2="{height - 22}" '
                    f'class="grid"/><text x="{px:.1f}" y="{height - 8}" class="tl">'
                    f'{_fmt(t)}</text>')
    for i, label in enumerate(labels):
        y = 30 + 26 * i
        body.append(f'<text x="{_LEFT - 6}" y="{y + 4}" class="tl" text-anchor="end">'
                    f'{escape(label)}</text>')
        if label in bands and all(_ok(x) for x in bands[label]):
            lo, hi = bands[label]
            body.append(f'<rect x="{frame.x(lo):.1f}" y="{y - 9}" '
                        f'width="{max(frame.x(hi) - frame.x(lo), 1):.1f}" height="18" '
                        f'class="band"/>')
        row = [v for v in groups[label] if _ok(v)]
        for v in row:
            body.append(f'<circle cx="{frame.x(v):.1f}" cy="{y}" r="3" class="dot"/>')
        if row:
            mean = sum(row) / len(row)
            body.append(f'<line x1="{frame.x(mean):.1f}" y1="{y - 8}" x2="{frame.x(mean):.1f}" '
                        f'y2="{y + 8}" class="meanbar"/>')
    return _svg(title, body, height)


def _svg(title: str, body: list[str], height: int = _H) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {height}" '
            f'class="plot" role="img" aria-label="{escape(title)}"><title>{escape(title)}'
            f'</title>{"".join(body)}</svg>')
