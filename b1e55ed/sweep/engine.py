"""The sweep's compiled kernels (numba, ``cache=True``, no fastmath): moving averages as the strategy computes them,
MA-crossover entries, and each combination's trades through the paper venue's rules, with its metrics.

**Moving averages, bit for bit.** The strategy takes a simple moving average with ``sma`` over a slice of the
window: a running sum from the slice's first value, divided by the length. So the kernels sum the same values in
the same order: the two averages that decide a cross at bar ``i`` (``n`` long) are ``S ÷ n`` and
``(S + c[i] − c[i−n]) ÷ n`` with ``S = c[i−n] + … + c[i−1]`` added left to right, and the trend average is
``(c[i−t+1] + … + c[i]) ÷ t``. A cross up at bar ``i`` is ``sign(fast − slow)`` turning from ≤ 0 to > 0, a cross
down from ≥ 0 to < 0: equal averages are "neither side", exactly as ``ma_crossover.crosses`` reads them.

**Trades, as the paper venue fills them.** A cross at bar ``i``, with the trend (close above the trend average for
a long, below for a short), taken when no position is open after bar ``i``'s fills: units = size × cash ÷ close
``i``; stop and target from that close (rounded as the strategy rounds them, by the caller); entry at bar ``i+1``'s
open, moved against the taker by the slippage model (its impact term on this combination's own notional), taker
fee; from that bar on, the stop before the target, each at its level or at the open when the bar gapped through,
with slippage and fee. The next entry may be decided at the close of the bar that exited.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

LONG, SHORT = 1, -1
STOP, TARGET, OPEN = 1, 2, 0  # how a trade ended; OPEN: still held at the last bar
DAY_MS = 86_400_000
YEAR_DAYS = 365.0


@njit(cache=True)
def sma_pair(close, n):  # type: ignore[no-untyped-def]
    """For each bar ``i ≥ n``: the ``n``-bar average at ``i − 1`` and at ``i``, as the strategy sums them."""
    count = len(close)
    before = np.full(count, np.nan)
    now = np.full(count, np.nan)
    for i in range(n, count):
        total = 0.0
        for k in range(i - n, i):
            total += close[k]
        before[i] = total / n
        now[i] = (total + close[i] - close[i - n]) / n
    return before, now


@njit(cache=True)
def window_mean(close, n):  # type: ignore[no-untyped-def]
    """For each bar ``i ≥ n − 1``: the mean of the ``n`` closes up to ``i``, summed left to right."""
    count = len(close)
    out = np.full(count, np.nan)
    for i in range(n - 1, count):
        total = 0.0
        for k in range(i - n + 1, i + 1):
            total += close[k]
        out[i] = total / n
    return out


@njit(cache=True)
def _side(a, b):  # type: ignore[no-untyped-def]
    return 1 if a > b else (-1 if a < b else 0)


@njit(cache=True)
def crossings(fast_before, fast_now, slow_before, slow_now, trend, close, start, longs, shorts, conviction):  # type: ignore[no-untyped-def]
    """The bars from ``start`` where the fast average crossed the slow one with the trend (``trend`` NaN: no
    filter): ``conviction`` for a long, ``−conviction`` for a short, 0 for none; ``longs``/``shorts`` switch each
    direction."""
    count = len(close)
    out = np.zeros(count, np.int8)
    for i in range(start, count):
        was, now = _side(fast_before[i], slow_before[i]), _side(fast_now[i], slow_now[i])
        direction = 0
        if now > 0 and was <= 0 and longs:
            direction = LONG
        elif now < 0 and was >= 0 and shorts:
            direction = SHORT
        if direction == 0:
            continue
        if not np.isnan(trend[i]):
            if direction == LONG and not close[i] > trend[i]:
                continue
            if direction == SHORT and not close[i] < trend[i]:
                continue
        out[i] = direction * conviction
    return out


@njit(cache=True)
def _slip(open_, high, low, volume, notional, base, volatility, impact, cap):  # type: ignore[no-untyped-def]
    traded = volume * open_
    if traded <= 0 or open_ <= 0:
        return cap
    raw = base / 1e4 + volatility * (high - low) / open_ + impact * abs(notional) / traded
    return raw if raw < cap else cap


METRICS = ("total_return", "sharpe", "sortino", "max_drawdown", "trades", "win_rate", "profit_factor")
METRIC_COUNT = len(METRICS)

# The columns of a trade row.
DECIDED, DIRECTION, ENTERED, EXITED, HOW, UNITS, ENTRY, EXIT, REALISED, ENTRY_FEE, EXIT_FEE = range(11)
TRADE_COLUMNS = 11


@njit(cache=True)
def simulate(signals, stops, targets, bars, sizes, start_equity, costs, trades_out):  # type: ignore[no-untyped-def]
    """One combination's trades. ``signals[i]``: the decision at bar ``i``'s close, its sign the direction and its
    size the conviction, sized ``sizes[conviction]`` (notional ÷ equity); ``stops[k, i]`` and
    ``targets[k, i]``: the levels a long (``k`` 0) or a short (``k`` 1) decided there uses; ``bars``: open, high,
    low, close, volume rows; ``costs``: taker fee, slippage base (bps), volatility, impact, cap, minimum notional.
    Writes trade rows (the columns above) into ``trades_out`` and returns how many."""
    opens, highs, lows, closes, volumes = bars[0], bars[1], bars[2], bars[3], bars[4]
    taker, base, volatility, impact, cap, minimum = costs[0], costs[1], costs[2], costs[3], costs[4], costs[5]
    count = len(closes)
    cash = start_equity
    written = 0
    i = 0
    while i < count - 1 and written < len(trades_out):
        direction = 1 if signals[i] > 0 else (-1 if signals[i] < 0 else 0)
        size = sizes[abs(signals[i])]
        if direction == 0 or size <= 0 or size * cash < minimum:
            i += 1
            continue
        units = size * cash / closes[i]
        side = 0 if direction == LONG else 1
        stop, target = stops[side, i], targets[side, i]
        entered = i + 1
        reference = opens[entered]
        slip = _slip(reference, highs[entered], lows[entered], volumes[entered], units * reference, base,
                     volatility, impact, cap)  # fmt: skip
        entry = reference * (1.0 + slip) if direction == LONG else reference * (1.0 - slip)
        entry_fee = abs(units * entry) * taker
        cash -= entry_fee
        how, exited, exit_price, exit_fee, realised = OPEN, count - 1, 0.0, 0.0, 0.0
        for j in range(entered, count):
            if direction == LONG:
                if lows[j] <= stop:
                    how, reference = STOP, min(stop, opens[j])
                elif highs[j] >= target:
                    how, reference = TARGET, max(target, opens[j])
            elif highs[j] >= stop:
                how, reference = STOP, max(stop, opens[j])
            elif lows[j] <= target:
                how, reference = TARGET, min(target, opens[j])
            if how != OPEN:
                slip = _slip(opens[j], highs[j], lows[j], volumes[j], units * reference, base, volatility, impact, cap)
                exit_price = reference * (1.0 - slip) if direction == LONG else reference * (1.0 + slip)
                exit_fee = abs(units * exit_price) * taker
                realised = direction * units * (exit_price - entry)
                cash -= exit_fee
                cash += realised
                exited = j
                break
        row = trades_out[written]
        row[DECIDED], row[DIRECTION], row[ENTERED], row[EXITED], row[HOW] = i, direction, entered, exited, how
        row[UNITS], row[ENTRY], row[EXIT] = units, entry, exit_price
        row[REALISED], row[ENTRY_FEE], row[EXIT_FEE] = realised, entry_fee, exit_fee
        written += 1
        if how == OPEN:
            break
        i = exited  # the next decision: at the close of the bar that exited
    return written


@njit(cache=True)
def account(trades, count, closes, day_last, start_equity):  # type: ignore[no-untyped-def]
    """One combination's account, bar by bar as the ledger keeps it: each UTC day's closing equity (``day_last``:
    each day's last bar), and the trade figures: maximum drawdown over every bar's settled equity, closed trades,
    wins, gross profit and gross loss."""
    cash, peak, worst = start_equity, start_equity, 0.0
    day_equity = np.empty(len(day_last))
    day, t, held = 0, 0, False
    wins, closed, gross_win, gross_loss = 0, 0, 0.0, 0.0
    for b in range(len(closes)):
        if not held and t < count and trades[t, ENTERED] == b:
            held = True
            cash -= trades[t, ENTRY_FEE]
        equity = cash
        if held:
            if trades[t, HOW] != OPEN and trades[t, EXITED] == b:
                cash -= trades[t, EXIT_FEE]
                cash += trades[t, REALISED]
                equity = cash
                pnl = trades[t, REALISED] - trades[t, ENTRY_FEE] - trades[t, EXIT_FEE]
                closed += 1
                if pnl > 0:
                    wins += 1
                    gross_win += pnl
                elif pnl < 0:
                    gross_loss -= pnl
                held = False
                t += 1
            else:
                equity = cash + trades[t, DIRECTION] * trades[t, UNITS] * (closes[b] - trades[t, ENTRY])
        if equity > peak:
            peak = equity
        if peak > 0 and 1.0 - equity / peak > worst:
            worst = 1.0 - equity / peak
        while day < len(day_last) and day_last[day] == b:
            day_equity[day] = equity
            day += 1
    return day_equity, np.array([worst, closed, wins, gross_win, gross_loss])


@njit(cache=True)
def daily_returns(day_equity, start_equity):  # type: ignore[no-untyped-def]
    returns = np.empty(len(day_equity))
    previous = start_equity
    for d in range(len(day_equity)):
        returns[d] = day_equity[d] / previous - 1.0
        previous = day_equity[d]
    return returns


@njit(cache=True)
def figures(returns, trade_stats, bounds):  # type: ignore[no-untyped-def]
    """The ``METRICS`` (as ``backtest/metrics.py`` defines them: a 365-day year, NaN where undefined), then each
    block's sum and sum of squares of daily returns (``bounds``: the blocks' first days, and the end)."""
    blocks = len(bounds) - 1
    out = np.full(METRIC_COUNT + 2 * blocks, np.nan)
    growth = 1.0
    for r in returns:
        growth *= 1.0 + r
    out[0] = growth - 1.0
    days = len(returns)
    if days >= 2:
        mean = returns.mean()
        spread = np.sqrt(((returns - mean) ** 2).sum() / (days - 1))
        if spread > 0:
            out[1] = mean / spread * np.sqrt(YEAR_DAYS)
    if days >= 1:
        downside = np.sqrt((np.minimum(returns, 0.0) ** 2).mean())
        if downside > 0:
            out[2] = returns.mean() / downside * np.sqrt(YEAR_DAYS)
    out[3], out[4] = trade_stats[0], trade_stats[1]  # the maximum drawdown, the closed trades
    if trade_stats[1] > 0:
        out[5] = trade_stats[2] / trade_stats[1]  # wins ÷ closed
    if trade_stats[4] > 0:
        out[6] = trade_stats[3] / trade_stats[4]  # gross profit ÷ gross loss
    for k in range(blocks):
        part = returns[bounds[k] : bounds[k + 1]]
        out[METRIC_COUNT + k] = part.sum()
        out[METRIC_COUNT + blocks + k] = (part * part).sum()
    return out


@njit(cache=True, parallel=True)
def sweep_chunk(signal_rows, signal_of, stop_rows, target_rows, levels_of, sizes, bars, day_last,  # type: ignore[no-untyped-def]
                start_equity, costs, max_trades, bounds):  # fmt: skip
    """Every combination of a chunk, in parallel: combination ``c`` trades ``signal_rows[signal_of[c]]`` with the
    levels ``stop_rows[levels_of[c]]``, ``target_rows[levels_of[c]]`` at the sizes ``sizes[c]`` (by conviction);
    its ``figures``."""
    combos = len(signal_of)
    out = np.empty((combos, METRIC_COUNT + 2 * (len(bounds) - 1)))
    for c in prange(combos):
        trades = np.empty((max_trades, TRADE_COLUMNS))
        stops, targets = stop_rows[levels_of[c]], target_rows[levels_of[c]]
        count = simulate(signal_rows[signal_of[c]], stops, targets, bars, sizes[c], start_equity, costs, trades)
        day_equity, stats = account(trades, count, bars[3], day_last, start_equity)
        out[c] = figures(daily_returns(day_equity, start_equity), stats, bounds)
    return out


@njit(cache=True, parallel=True)
def overfit_logits(block_sums, block_squares, block_days, splits):  # type: ignore[no-untyped-def]
    """Combinatorially symmetric cross-validation: for each split (``splits[k, b]`` true where block ``b`` is in
    sample), the combination with the best in-sample Sharpe, and the logit of its out-of-sample rank among all
    (``ω`` = rank ÷ (N + 1), ``λ = ln(ω ÷ (1 − ω))``). Sharpe of a set of blocks from their sums, so no combination's
    returns are kept."""
    count, combos = len(splits), len(block_sums)
    logits = np.empty(count)
    for k in prange(count):
        inside = splits[k]
        best, best_sharpe = -1, -np.inf
        oos = np.empty(combos)
        for c in range(combos):
            s_in = q_in = n_in = s_out = q_out = n_out = 0.0
            for b in range(len(inside)):
                if inside[b]:
                    s_in += block_sums[c, b]
                    q_in += block_squares[c, b]
                    n_in += block_days[b]
                else:
                    s_out += block_sums[c, b]
                    q_out += block_squares[c, b]
                    n_out += block_days[b]
            sharpe_in = _sharpe(s_in, q_in, n_in)
            oos[c] = _sharpe(s_out, q_out, n_out)
            if sharpe_in > best_sharpe:
                best, best_sharpe = c, sharpe_in
        below = 0
        for c in range(combos):
            if oos[c] < oos[best]:
                below += 1
        omega = (below + 1.0) / (combos + 1.0)
        logits[k] = np.log(omega / (1.0 - omega))
    return logits


@njit(cache=True)
def _sharpe(total, squares, n):  # type: ignore[no-untyped-def]
    if n < 2:
        return -np.inf
    mean = total / n
    variance = (squares - total * total / n) / (n - 1)
    return mean / np.sqrt(variance) if variance > 0 else -np.inf
