"""The sweep's ``report.html``: one self-contained page (inline CSS and SVG, no script, no URL) with the objective as
a heatmap over two parameters, the best combinations' equity curves, how likely the best is luck, and the
walk-forward result beside the in-sample best."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import polars as pl

from b1e55ed.backtest.html import STYLE
from b1e55ed.backtest.svg import Series, chart

HEAT_STYLE = """
.heat{width:100%;height:auto;background:#fff;border:1px solid #dde1e8;border-radius:6px}
.heat text{font-size:10px;fill:#5b6475}.c0{stroke:#1f5fbf}.c1{stroke:#c62828}.c2{stroke:#1b7a3a}.c3{stroke:#8e44ad}
.c4{stroke:#d68910}.key.c0{color:#1f5fbf}.key.c1{color:#c62828}.key.c2{color:#1b7a3a}.key.c3{color:#8e44ad}
.key.c4{color:#d68910}
"""
CURVES = 5


def render(
    *,
    table: pl.DataFrame,
    names: Sequence[str],
    objective: str,
    heat: tuple[str, str] | None,
    curves: Sequence[tuple[str, Sequence[int], Sequence[float]]],
    overfitting: Mapping[str, Any],
    walk: Mapping[str, Any] | None,
    title: str,
) -> str:
    ranked = table.sort(objective, descending=objective != "max_drawdown", nulls_last=True)
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{escape(title)}</title>",
        f"<style>{STYLE}{HEAT_STYLE}</style></head><body><h1>{escape(title)}</h1>",
        _luck(overfitting, walk, ranked, objective),
        f"<h2>{escape(objective)} over {' × '.join(heat) if heat else 'two parameters'}</h2>",
        _heatmap(table, heat, objective) if heat else "<p>One parameter swept: no heatmap.</p>",
        f"<h2>The best {min(CURVES, len(curves))} by {escape(objective)}: equity</h2>",
        chart(
            curves[0][1] if curves else [],
            [Series(label, values, f"c{i}") for i, (label, _, values) in enumerate(curves)],
            label="equity",
            fmt=lambda v: f"{v:,.0f}",
        ),
        "<h2>Top combinations</h2>",
        _table(ranked.head(20), names),
        "</body></html>",
    ]
    return "\n".join(parts)


def _luck(overfitting: Mapping[str, Any], walk: Mapping[str, Any] | None, ranked: pl.DataFrame, objective: str) -> str:
    def share(value: float | None) -> str:
        return "—" if value is None else f"{value:.1%}"

    best_sharpe = ranked["sharpe"][0] if ranked.height else None
    cards = [
        ("combinations", f"{overfitting.get('trials', 0):,}"),
        ("effective trials", f"{overfitting.get('effective_trials', 0):,.0f}"),
        ("deflated Sharpe of the best", share(overfitting.get("deflated_sharpe"))),
        ("… over effective trials", share(overfitting.get("deflated_sharpe_effective"))),
        ("probability of overfitting", share(overfitting.get("pbo"))),
        ("in-sample best Sharpe", _fixed(best_sharpe)),
    ]
    if walk is not None:
        cards += [
            (f"walk-forward {walk['train_days']}d:{walk['test_days']}d Sharpe", _fixed(walk["sharpe"])),
            ("walk-forward total return", share(walk["total_return"])),
        ]
    body = "".join(
        f"<div class=card><b>{escape(value)}</b><span>{escape(label)}</span></div>" for label, value in cards
    )
    return f"<h2>How likely the best is luck</h2><div class=cards>{body}</div>"


def _heatmap(table: pl.DataFrame, heat: tuple[str, str], objective: str) -> str:
    """Each cell: the best ``objective`` over the other parameters at that pair of values."""
    x_name, y_name = heat
    best = pl.col(objective).min() if objective == "max_drawdown" else pl.col(objective).max()
    cells = table.group_by([x_name, y_name]).agg(best.alias("value"))
    xs, ys = sorted(cells[x_name].unique().to_list()), sorted(cells[y_name].unique().to_list())
    values = [v for v in cells["value"].to_list() if v is not None and math.isfinite(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    width, height, left, bottom = 960, 420, 60, 30
    cw, ch = (width - left) / max(len(xs), 1), (height - bottom) / max(len(ys), 1)
    at_x, at_y = {v: i for i, v in enumerate(xs)}, {v: i for i, v in enumerate(ys)}
    rects = []
    for x, y, value in cells.iter_rows():
        colour = _colour(value, low, high)
        top = height - bottom - (at_y[y] + 1) * ch
        title = f"{x_name} {x}, {y_name} {y}: {objective} {_fixed(value)}"
        rects.append(
            f'<rect x="{left + at_x[x] * cw:.1f}" y="{top:.1f}" width="{cw + 0.5:.1f}" height="{ch + 0.5:.1f}" '
            f'fill="{colour}"><title>{escape(title)}</title></rect>'
        )
    labels = [f'<text x="{left - 4}" y="{height - bottom - (i + 0.5) * ch + 3:.1f}" text-anchor="end">{escape(str(v))}'
              "</text>" for i, v in enumerate(ys) if i % max(1, len(ys) // 12) == 0]  # fmt: skip
    labels += [f'<text x="{left + (i + 0.5) * cw:.1f}" y="{height - 12}" text-anchor="middle">{escape(str(v))}</text>'
               for i, v in enumerate(xs) if i % max(1, len(xs) // 16) == 0]  # fmt: skip
    legend = (
        f"{escape(x_name)} across, {escape(y_name)} up; {objective} from {_fixed(low)} (red) to {_fixed(high)} (green)"
    )
    return (
        f'<figure><svg class="heat" viewBox="0 0 {width} {height}" role="img" aria-label="heatmap">'
        f"{''.join(rects)}{''.join(labels)}</svg><figcaption>{legend}</figcaption></figure>"
    )


def _colour(value: float | None, low: float, high: float) -> str:
    if value is None or not math.isfinite(value):
        return "#e6e8ee"
    share = 0.5 if high <= low else (value - low) / (high - low)
    return f"hsl({share * 120:.0f},65%,{42 + 10 * (1 - abs(share - 0.5) * 2):.0f}%)"


def _table(rows: pl.DataFrame, names: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in rows.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(row[c], c in names))}</td>" for c in rows.columns) + "</tr>"
        for row in rows.iter_rows(named=True)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any, raw: bool) -> str:
    if value is None:
        return "—"
    if raw or isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def _fixed(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:.3g}"
