"""The card's speedup plot: a histogram of pairs' speedups over eager PyTorch, as an SVG file
(no plotting library), one bar per power-of-two-wide bin from 1/16x to 16x, per architecture."""

from __future__ import annotations

import math

EDGES = [2.0 ** e for e in range(-4, 5)]  # 1/16x ... 16x
WIDTH, HEIGHT, PAD = 640, 260, 40
COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948"]


def bins(values: list[float]) -> list[int]:
    counts = [0] * (len(EDGES) + 1)
    for v in values:
        counts[sum(v >= e for e in EDGES)] += 1
    return counts


def speedup_svg(by_arch: dict[str, list[float]]) -> str | None:
    """The SVG text, or None when no pair has a speedup (e.g. an interpreter-only release)."""
    by_arch = {a: v for a, v in sorted(by_arch.items()) if v}
    if not by_arch:
        return None
    counts = {a: bins(v) for a, v in by_arch.items()}
    top = max(max(c) for c in counts.values())
    n_bins = len(EDGES) + 1
    slot = (WIDTH - 2 * PAD) / n_bins
    bar = slot * 0.8 / len(counts)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="{PAD}" y="16">pairs by speedup over eager PyTorch</text>']
    for k, (arch, c) in enumerate(counts.items()):
        color = COLORS[k % len(COLORS)]
        parts.append(f'<text x="{WIDTH - PAD - 80}" y="{16 + 14 * k}" fill="{color}">{arch} '
                     f'({sum(c)})</text>')
        for i, n in enumerate(c):
            h = (HEIGHT - 2 * PAD) * n / top if top else 0
            x = PAD + i * slot + slot * 0.1 + k * bar
            parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{color}"><title>{n}</title></rect>')
    for i in range(n_bins):
        lo = "" if i == 0 else _label(EDGES[i - 1])
        hi = "" if i == n_bins - 1 else _label(EDGES[i])
        text = f"<{hi}" if not lo else (f">={lo}" if not hi else f"{lo}-{hi}")
        parts.append(f'<text x="{PAD + i * slot + slot / 2:.1f}" y="{HEIGHT - PAD + 14}" '
                     f'text-anchor="middle">{text}</text>')
    parts.append(f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" '
                 'stroke="black"/></svg>')
    return "\n".join(parts) + "\n"


def _label(x: float) -> str:
    return f"{x:g}x" if x >= 1 else f"1/{round(1 / x)}x"


def geometric_mean(values: list[float]) -> float | None:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None
