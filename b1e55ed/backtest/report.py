"""The backtest report: computed from an event log alone, written as ``report.json`` and ``report.html``.

The same log gives a byte-identical ``report.json``: it holds no wall-clock time and no path, only what the log
says (the chain head included, so a report names the exact log it describes). Money is in USD; returns, drawdowns
and exposure are fractions (0.05 is 5%); times are ms since the epoch, UTC. Each metric is defined in
``b1e55ed.backtest.metrics``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec
import numpy as np

from b1e55ed.backtest import metrics
from b1e55ed.backtest.history import RunHistory, Trade, read_history
from b1e55ed.eventlog.connect import LogKey
from b1e55ed.messages import Check, SignalRef

SCHEMA = 1
CURVE_POINTS = 1000
JSON_NAME, HTML_NAME = "report.json", "report.html"


class RunInfo(msgspec.Struct, frozen=True, kw_only=True):
    first_as_of: int | None
    last_as_of: int | None
    days: int
    cycles: int
    candles: int
    symbols: list[str]
    sources: list[str]
    starts: int
    config_hashes: list[str]
    events: int
    head: str


class KillSwitchChange(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    ts: int
    state: str
    previous: str
    cause: str
    detail: str


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """The headline figures. ``fees_paid`` and ``funding_paid`` are cash out of the account over the whole run,
    open positions included (funding received makes ``funding_paid`` negative); the trade figures count closed
    trades only, ``average_loss`` over those that did not win."""

    starting_equity: float | None
    final_equity: float | None
    total_return: float
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float
    max_drawdown_duration_days: float
    max_drawdown_start: int | None
    max_drawdown_end: int | None
    max_drawdown_recovered: bool
    closed_trades: int
    open_trades: int
    wins: int
    win_rate: float | None
    profit_factor: float | None
    expectancy: float | None
    average_win: float | None
    average_loss: float | None
    realised_pnl: float
    exposure: float | None
    mean_gross_exposure: float | None
    fees_paid: float
    funding_paid: float
    buy_and_hold_return: float | None


class Breakdown(msgspec.Struct, frozen=True, kw_only=True):
    """Closed trades of one strategy or symbol; fees and funding are those of its closed trades."""

    name: str
    trades: int
    open: int
    wins: int
    win_rate: float | None
    pnl: float
    profit_factor: float | None
    expectancy: float | None
    fees: float
    funding: float


class CurvePoint(msgspec.Struct, frozen=True, kw_only=True):
    as_of: int
    equity: float
    buy_and_hold: float
    drawdown: float


class MonthRow(msgspec.Struct, frozen=True, kw_only=True):
    month: str
    value: float


class TradeRow(msgspec.Struct, frozen=True, kw_only=True):
    position_id: str
    decision_id: str | None
    strategy: str
    symbol: str
    side: str
    status: str
    opened_at: int
    closed_at: int | None
    entry_price: float
    exit_price: float | None
    size: float
    notional: float
    pnl: float | None
    return_on_notional: float | None
    fees: float
    funding: float


class DecisionDetail(msgspec.Struct, frozen=True, kw_only=True):
    """Why a trade was made: the strategy's reason and rationale, its signals and sizing, and every risk check."""

    decision_id: str
    cycle: int
    as_of: int
    strategy: str
    symbol: str
    direction: str | None
    reason: str
    rationale: str
    signals: list[SignalRef]
    sizing: dict[str, float]
    checks: list[Check]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    schema: int
    run: RunInfo
    halts: list[KillSwitchChange]
    killswitch: list[KillSwitchChange]
    summary: Summary
    by_strategy: list[Breakdown]
    by_symbol: list[Breakdown]
    monthly: list[MonthRow]
    curve: list[CurvePoint]
    trades: list[TradeRow]
    decisions: list[DecisionDetail]


_encoder = msgspec.json.Encoder(order="deterministic")


def build_report(db: Path, key: LogKey | None = None) -> Report:
    return report_of(read_history(db, key))


def report_of(history: RunHistory) -> Report:
    start = float(history.equity[0]) if len(history.equity) else None
    bench = metrics.buy_and_hold(start or 0.0, history.closes) if start is not None else np.zeros(0)
    changes = [KillSwitchChange(**vars(change)) for change in history.killswitch]
    return Report(
        schema=SCHEMA,
        run=_run_info(history),
        halts=[change for change in changes if change.state == "HALTED"],
        killswitch=changes,
        summary=_summary(history, start, bench),
        by_strategy=_breakdowns(history.trades, lambda t: t.strategy),
        by_symbol=_breakdowns(history.trades, lambda t: t.symbol),
        monthly=_monthly(history, start),
        curve=_curve(history, bench),
        trades=[_trade_row(trade) for trade in history.trades],
        decisions=_decisions(history),
    )


def write_report(report: Report, folder: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``folder`` (made if missing), each atomically."""
    from b1e55ed.backtest.html import render  # the HTML is the slower half to import; JSON readers skip it

    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / JSON_NAME, folder / HTML_NAME
    _write_atomically(json_path, to_json(report))
    _write_atomically(html_path, render(report).encode("utf-8"))
    return json_path, html_path


def to_json(report: Report) -> bytes:
    return msgspec.json.format(_encoder.encode(report), indent=2) + b"\n"


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


# --------------------------------------------------------------------------------------------------------------


def _run_info(history: RunHistory) -> RunInfo:
    as_of = history.as_of
    return RunInfo(
        first_as_of=int(as_of[0]) if len(as_of) else None,
        last_as_of=int(as_of[-1]) if len(as_of) else None,
        days=len(metrics.daily_equity(as_of, history.equity).days),
        cycles=len(as_of),
        candles=history.candles,
        symbols=history.symbols,
        sources=history.sources,
        starts=history.starts,
        config_hashes=history.config_hashes,
        events=history.events,
        head=history.head,
    )


def _returns(history: RunHistory, start: float | None) -> tuple[metrics.Daily, metrics.Floats]:
    daily = metrics.daily_equity(history.as_of, history.equity)
    if start is None:
        return daily, np.zeros(0)
    flows = metrics.flows_per_day(daily.days, history.flow_ts, history.flow_amounts)
    return daily, metrics.daily_returns(start, daily, flows)


def _adjusted_equity(history: RunHistory) -> metrics.Floats:
    """Equity less the external cash added since the start, so a deposit is neither a gain nor a recovery."""
    added = np.zeros(len(history.as_of))
    for ts, amount in zip(history.flow_ts, history.flow_amounts, strict=True):
        added[np.searchsorted(history.as_of, ts) :] += amount
    return history.equity - added


def _summary(history: RunHistory, start: float | None, bench: metrics.Floats) -> Summary:
    _, returns = _returns(history, start)
    equity = _adjusted_equity(history)
    worst = metrics.max_drawdown(equity)
    underwater = metrics.longest_drawdown(history.as_of, equity)
    annual = metrics.cagr(returns)
    closed = [t for t in history.trades if t.pnl is not None]
    pnl = np.array([t.pnl for t in closed], np.float64)
    return Summary(
        starting_equity=start,
        final_equity=float(history.equity[-1]) if len(history.equity) else None,
        total_return=metrics.total_return(returns),
        cagr=annual,
        sharpe=metrics.sharpe(returns),
        sortino=metrics.sortino(returns),
        calmar=metrics.calmar(annual, worst),
        max_drawdown=worst,
        max_drawdown_duration_days=underwater.duration_ms / metrics.DAY_MS,
        max_drawdown_start=underwater.start,
        max_drawdown_end=underwater.end,
        max_drawdown_recovered=underwater.recovered,
        closed_trades=len(closed),
        open_trades=len(history.trades) - len(closed),
        wins=int(np.sum(pnl > 0)),
        win_rate=metrics.win_rate(pnl),
        profit_factor=metrics.profit_factor(pnl),
        expectancy=metrics.expectancy(pnl),
        average_win=metrics.expectancy(pnl[pnl > 0]),
        average_loss=metrics.expectancy(pnl[pnl <= 0]),
        realised_pnl=float(np.sum(pnl)),
        exposure=metrics.time_in_market(history.open_positions),
        mean_gross_exposure=metrics.mean_leverage(history.exposure, history.equity),
        fees_paid=float(sum(history.fees_by_symbol.values())),
        funding_paid=-float(sum(history.funding_by_symbol.values())),
        buy_and_hold_return=float(bench[-1] / start - 1.0) if start and len(bench) else None,
    )


def _breakdowns(trades: Sequence[Trade], key: Callable[[Trade], str]) -> list[Breakdown]:
    groups: dict[str, list[Trade]] = {}
    for trade in trades:
        groups.setdefault(key(trade), []).append(trade)
    rows = []
    for name in sorted(groups):
        closed = [t for t in groups[name] if t.pnl is not None]
        pnl = np.array([t.pnl for t in closed], np.float64)
        rows.append(
            Breakdown(
                name=name,
                trades=len(closed),
                open=len(groups[name]) - len(closed),
                wins=int(np.sum(pnl > 0)),
                win_rate=metrics.win_rate(pnl),
                pnl=float(np.sum(pnl)),
                profit_factor=metrics.profit_factor(pnl),
                expectancy=metrics.expectancy(pnl),
                fees=float(sum(t.fees for t in closed)),
                funding=float(sum(t.funding for t in closed)),
            )
        )
    return rows


def _monthly(history: RunHistory, start: float | None) -> list[MonthRow]:
    daily, returns = _returns(history, start)
    return [MonthRow(month=m.month, value=m.value) for m in metrics.monthly_returns(daily.days, returns)]


def _curve(history: RunHistory, bench: metrics.Floats) -> list[CurvePoint]:
    """At most ``CURVE_POINTS`` points: the last cycle of each equal slice of the run, with the slice's deepest
    drawdown, so the chart keeps the worst moment."""
    count = len(history.as_of)
    if count == 0:
        return []
    depth = metrics.drawdown(_adjusted_equity(history))
    edges = np.unique(np.linspace(0, count, min(count, CURVE_POINTS) + 1).astype(np.int64))
    points = []
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        last = hi - 1
        points.append(
            CurvePoint(
                as_of=int(history.as_of[last]),
                equity=float(history.equity[last]),
                buy_and_hold=float(bench[last]),
                drawdown=float(np.min(depth[lo:hi])),
            )
        )
    return points


def _trade_row(trade: Trade) -> TradeRow:
    notional = trade.entry_price * trade.size
    return TradeRow(
        **dataclasses.asdict(trade),
        notional=notional,
        return_on_notional=trade.pnl / notional if trade.pnl is not None and notional > 0 else None,
    )


def _decisions(history: RunHistory) -> list[DecisionDetail]:
    details = []
    for trade in history.trades:
        if trade.decision_id is None or (decision := history.decisions.get(trade.decision_id)) is None:
            continue
        verdict = history.verdicts.get(trade.decision_id)
        details.append(
            DecisionDetail(
                decision_id=decision.decision_id,
                cycle=decision.cycle,
                as_of=decision.as_of,
                strategy=decision.strategy,
                symbol=decision.symbol,
                direction=decision.direction,
                reason=decision.reason,
                rationale=history.rationales.get(decision.decision_id, ""),
                signals=list(decision.signals),
                sizing=dict(decision.sizing),
                checks=list(verdict.checks) if verdict is not None else [],
            )
        )
    return details
