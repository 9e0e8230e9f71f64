"""``report.html``: the report as one self-contained page. Inline CSS and SVG; no script, no font, no URL.

Everything shown comes from the ``Report`` (so from the log): a kill-switch halt at the top, the headline metrics,
the equity curve against buy-and-hold, the drawdown, monthly returns, the breakdowns by strategy and by symbol,
the trades, each linked to the decision that made it, and a glossary drawn from the metrics' own docstrings.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from html import escape

from b1e55ed.backtest import metrics
from b1e55ed.backtest.report import Breakdown, DecisionDetail, Report, Summary, TradeRow
from b1e55ed.backtest.svg import Series, chart

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
GLOSSARY: tuple[Callable[..., object], ...] = (
    metrics.total_return,
    metrics.cagr,
    metrics.sharpe,
    metrics.sortino,
    metrics.calmar,
    metrics.max_drawdown,
    metrics.longest_drawdown,
    metrics.profit_factor,
    metrics.expectancy,
    metrics.win_rate,
    metrics.time_in_market,
    metrics.mean_leverage,
    metrics.buy_and_hold,
    metrics.monthly_returns,
)

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;padding:16px;
color:#1d2330;background:#fafbfc}
h1{font-size:22px;margin:4px 0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde1e8}
.meta{color:#5b6475;font-size:13px}.halt{background:#fde8e8;border:2px solid #c62828;color:#8e1212;padding:10px 14px;
margin:12px 0;font-weight:600;border-radius:6px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
.card{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:8px 10px}
.card b{display:block;font-size:18px}.card span{color:#5b6475;font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:12.5px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #e3e6ec;padding:3px 6px;text-align:right}th{background:#f0f2f6}
td.l,th.l{text-align:left}.pos{color:#1b7a3a}.neg{color:#b3261e}
td.pos{background:#eaf6ee}td.neg{background:#fbecec}
figure{margin:0;background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:6px}
.chart{width:100%;height:auto}.grid{stroke:#e6e8ee;stroke-width:1}.axis{font-size:11px;fill:#5b6475}
polyline{stroke-width:1.6}.equity{stroke:#1f5fbf;color:#1f5fbf}.bench{stroke:#9aa3b2;color:#9aa3b2}
polygon.dd{fill:#f3c2c2;stroke:#c62828;stroke-width:1}.key.dd{color:#c62828}
figcaption{font-size:12px;padding:2px 8px}.key{margin-right:16px}.key:before{content:"\\25A0 "}
line.mark{stroke:#c62828;stroke-dasharray:4 3}text.mark{font-size:11px;fill:#c62828}
.decision{background:#fff;border:1px solid #dde1e8;border-radius:6px;padding:6px 10px;margin:6px 0}
.decision:target{border-color:#1f5fbf;box-shadow:0 0 0 2px #c9dbf7}.decision table{margin-top:4px}
code{font-size:12px}dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px}dt{font-weight:600}dd{margin:0}
"""


def render(report: Report) -> str:
    body = [
        _header(report),
        *(_halt(change.ts, change.cause, change.detail) for change in report.halts),
        _cards(report.summary),
        "<h2>Equity against buy-and-hold</h2>",
        _equity_chart(report),
        "<h2>Drawdown</h2>",
        _drawdown_chart(report),
        "<h2>Monthly returns</h2>",
        _monthly(report),
        "<h2>By strategy</h2>",
        _breakdown(report.by_strategy, "strategy"),
        "<h2>By symbol</h2>",
        _breakdown(report.by_symbol, "symbol"),
        f"<h2>Trades ({len(report.trades)})</h2>",
        _trades(report.trades),
        "<h2>Decisions behind the trades</h2>",
        *(_decision(detail) for detail in report.decisions),
        "<h2>Kill switch</h2>",
        _killswitch(report),
        "<h2>Definitions</h2>",
        _glossary(),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>b1e55ed backtest report</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


# -- formatting ------------------------------------------------------------------------------------------------


def when(ms: int | None) -> str:
    return "—" if ms is None else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def pct(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.2f}%" if signed else f"{value * 100:.2f}%"


def money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _sign(value: float | None) -> str:
    return "" if value is None or value == 0 else ("pos" if value > 0 else "neg")


Cell = str | tuple[str, str]
"""Escaped HTML, or (CSS class, escaped HTML)."""


def _table(head: Sequence[str], rows: Iterable[Sequence[Cell]], left: int = 1) -> str:
    """A table of already-escaped cells; the first ``left`` columns are left-aligned."""

    def cell(tag: str, index: int, value: Cell) -> str:
        css, content = value if isinstance(value, tuple) else ("", value)
        classes = " ".join(c for c in ("l" if index < left else "", css) if c)
        return f'<{tag} class="{classes}">{content}</{tag}>' if classes else f"<{tag}>{content}</{tag}>"

    header = "".join(cell("th", i, escape(h)) for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


# -- sections --------------------------------------------------------------------------------------------------


def _header(report: Report) -> str:
    run = report.run
    symbols = ", ".join(run.symbols) or "—"
    hashes = ", ".join(h[:12] for h in run.config_hashes) or "—"
    return (
        "<h1>b1e55ed backtest report</h1>"
        f'<p class="meta">{escape(when(run.first_as_of))} → {escape(when(run.last_as_of))} UTC · {run.days} days · '
        f"{run.cycles:,} cycles · {run.candles:,} candles · {escape(symbols)} · source {escape(', '.join(run.sources))}"
        f"<br>event log: {run.events:,} events, head <code>{escape(run.head)}</code> · config {escape(hashes)}"
        f" · {run.starts} start{'s' if run.starts != 1 else ''}</p>"
    )


def _halt(ts: int, cause: str, detail: str) -> str:
    text = f"Trading HALTED at {when(ts)} UTC by the kill switch ({cause}): {detail}"
    return f'<div class="halt">{escape(text)}</div>'


def _cards(s: Summary) -> str:
    cards = [
        ("Total return", pct(s.total_return)),
        ("CAGR", pct(s.cagr)),
        ("Sharpe", ratio(s.sharpe)),
        ("Sortino", ratio(s.sortino)),
        ("Calmar", ratio(s.calmar)),
        ("Max drawdown", pct(s.max_drawdown, signed=False)),
        ("Longest drawdown", f"{s.max_drawdown_duration_days:.1f} days{'' if s.max_drawdown_recovered else ', open'}"),
        ("Profit factor", ratio(s.profit_factor)),
        ("Expectancy", money(s.expectancy)),
        ("Win rate", pct(s.win_rate, signed=False)),
        ("Closed trades", f"{s.closed_trades:,}" + (f" (+{s.open_trades} open)" if s.open_trades else "")),
        ("Realised P&L", money(s.realised_pnl)),
        ("Exposure", pct(s.exposure, signed=False)),
        ("Mean gross exposure", pct(s.mean_gross_exposure, signed=False)),
        ("Fees paid", money(s.fees_paid)),
        ("Funding paid", money(s.funding_paid)),
        ("Final equity", money(s.final_equity)),
        ("Buy-and-hold", pct(s.buy_and_hold_return)),
    ]
    items = "".join(f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>' for k, v in cards)
    return f'<div class="cards">{items}</div>'


def _equity_chart(report: Report) -> str:
    times = [p.as_of for p in report.curve]
    series = [
        Series("buy-and-hold, equal weight", [p.buy_and_hold for p in report.curve], "bench"),
        Series("equity", [p.equity for p in report.curve], "equity"),
    ]
    return chart(times, series, label="equity against buy-and-hold", fmt=lambda v: f"{v:,.0f}", marks=_marks(report))


def _drawdown_chart(report: Report) -> str:
    times = [p.as_of for p in report.curve]
    series = [Series("drawdown", [p.drawdown for p in report.curve], "dd", area=True)]
    return chart(times, series, label="drawdown", fmt=lambda v: f"{v * 100:.1f}%", marks=_marks(report))


def _marks(report: Report) -> list[tuple[int, str]]:
    return [(halt.ts, f"HALTED ({halt.cause})") for halt in report.halts]


def _monthly(report: Report) -> str:
    if not report.monthly:
        return '<p class="empty">No settled cycle.</p>'
    years: dict[str, dict[int, float]] = {}
    for row in report.monthly:
        year, _, month = row.month.partition("-")
        years.setdefault(year, {})[int(month)] = row.value
    rows = []
    for year, months in years.items():
        growth = 1.0
        for gain in months.values():
            growth *= 1.0 + gain
        cells: list[Cell] = [year]
        for number in range(1, 13):
            value = months.get(number)
            cells.append("" if value is None else (_sign(value), pct(value)))
        cells.append((_sign(growth - 1), pct(growth - 1)))
        rows.append(cells)
    return _table(["Year", *MONTHS, "Year"], rows)


def _breakdown(rows: Sequence[Breakdown], what: str) -> str:
    if not rows:
        return '<p class="empty">No trade.</p>'
    head = [what, "closed", "open", "wins", "win rate", "P&L", "profit factor", "expectancy", "fees", "funding"]
    body: list[list[Cell]] = [
        [
            escape(r.name),
            f"{r.trades:,}",
            f"{r.open:,}",
            f"{r.wins:,}",
            pct(r.win_rate, signed=False),
            (_sign(r.pnl), money(r.pnl)),
            ratio(r.profit_factor),
            money(r.expectancy),
            money(r.fees),
            money(r.funding),
        ]
        for r in rows
    ]
    return _table(head, body)


def _trades(trades: Sequence[TradeRow]) -> str:
    if not trades:
        return '<p class="empty">No trade.</p>'
    head = ["#", "opened", "closed", "strategy", "symbol", "side", "status", "entry", "exit", "size", "notional"]
    head += ["P&L", "return", "fees", "funding", "decision"]
    body: list[list[Cell]] = []
    for number, t in enumerate(trades, 1):
        link = "—" if t.decision_id is None else f'<a href="#d-{escape(t.decision_id)}">{escape(t.decision_id)}</a>'
        body.append(
            [
                str(number),
                escape(when(t.opened_at)),
                escape(when(t.closed_at)),
                escape(t.strategy),
                escape(t.symbol),
                escape(t.side),
                escape(t.status),
                f"{t.entry_price:,.6g}",
                "—" if t.exit_price is None else f"{t.exit_price:,.6g}",
                f"{t.size:.6g}",
                money(t.notional),
                (_sign(t.pnl), money(t.pnl)),
                pct(t.return_on_notional),
                money(t.fees),
                money(t.funding),
                link,
            ]
        )
    return _table(head, body, left=7)


def _decision(d: DecisionDetail) -> str:
    signals = ", ".join(
        f"{escape(s.producer)} {escape(s.signal)} {s.conviction}"
        + ("" if s.calibrated is None else f" (P(win) {s.calibrated:.2f})")
        for s in d.signals
    )
    sizing = ", ".join(f"{escape(k)} {v:.6g}" for k, v in sorted(d.sizing.items()))
    checks = _table(
        ["check", "passed", "detail"],
        [[escape(c.name), ("pos", "yes") if c.passed else ("neg", "no"), escape(c.detail)] for c in d.checks],
        left=3,
    )
    direction = escape(d.direction or "")
    return (
        f'<div class="decision" id="d-{escape(d.decision_id)}"><b>{escape(d.strategy)} {escape(d.symbol)} {direction}'
        f"</b> · cycle {d.cycle:,} as of {escape(when(d.as_of))} UTC · <code>{escape(d.decision_id)}</code>"
        f"<br>{escape(d.reason)}<br>{escape(d.rationale)}<br>signals: {signals or '—'}<br>sizing: {sizing or '—'}"
        f"{checks if d.checks else ''}</div>"
    )


def _killswitch(report: Report) -> str:
    if not report.killswitch:
        return '<p class="empty">The trading state never changed.</p>'
    rows = [
        [str(c.seq), escape(when(c.ts)), escape(f"{c.previous} → {c.state}"), escape(c.cause), escape(c.detail)]
        for c in report.killswitch
    ]
    return _table(["seq", "time (UTC)", "state", "cause", "detail"], rows, left=5)


def _glossary() -> str:
    entries = []
    for function in GLOSSARY:
        doc = inspect.getdoc(function) or ""
        first = " ".join(doc.split("\n\n")[0].replace("``", "").split())
        term, _, definition = first.partition(": ")
        entries.append(f"<dt>{escape(term)}</dt><dd>{escape(definition)}</dd>")
    paragraphs = (inspect.getdoc(metrics) or "").split("\n\n")
    items = [" ".join(item.replace("``", "").split()) for item in paragraphs[2].removeprefix("- ").split("\n- ")]
    conventions = "".join(f"<li>{escape(item)}</li>" for item in items)
    return f"<p>{escape(paragraphs[1])}</p><ul>{conventions}</ul><dl>{''.join(entries)}</dl>"
