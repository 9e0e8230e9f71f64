"""Hyperliquid live market data: closed candles once per close, and mid prices polled for the dashboard.

Request weight (Hyperliquid allows 1,200 a minute per IP; see ``b1e55ed.hyperliquid.info``):

* ``watch_mids``: one ``allMids`` (weight 2) every ``mids_interval_s`` = 5 s → 12 × 2 = **24 a minute**, whatever
  the number of symbols.
* ``closes``, per close: one ``candleSnapshot`` per symbol from the close just passed to now, which returns the
  closed candle and the new, open one: 20 + ⌈2/60⌉ = **21 each**.
* History, once at start: one ``candleSnapshot`` per symbol for ``history_bars`` = 500 candles:
  20 + ⌈501/60⌉ = **29 each** (more than 5,000 candles take several pages of at most 20 + 84 = 104).

3 symbols on 1h: 24 + 3 × 21 / 60 ≈ **25 a minute** (2% of the budget); history 3 × 29 = 87 once.
50 symbols on 1m: 24 + 50 × 21 = **1,074 a minute** (90%); history 50 × 29 = 1,450 once, more than the 1,200
burst, so the budget spreads the last 250 over 12.5 s. The defaults fit. Every other ``/info`` user (the live
venue's order and position queries, collectors) must share the same ``WeightBudget``, and with it this headroom.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence

import trio

from b1e55ed.clock import Clock
from b1e55ed.hyperliquid.info import InfoClient, InfoError
from b1e55ed.market.feed import CloseBatch, Mids, MidsSink
from b1e55ed.messages import Bar, MarketSource
from b1e55ed.timeframes import HYPERLIQUID_INTERVALS, INTERVAL_MS

__all__ = ["HyperliquidFeed", "reachable"]

logger = logging.getLogger(__name__)


class HyperliquidFeed:
    """A ``Feed`` of Hyperliquid candles for ``symbols`` (Hyperliquid coin names: "BTC", "ETH", ...).

    ``closes()`` first yields the last ``history_bars`` closed candles of every symbol, merged into one
    ``CloseBatch`` per close time, then waits for each close (by the injected ``clock``, plus ``settle_ms`` for the
    venue to finish the candle) and yields the candles that closed. A candle is yielded once its close (open time
    plus the timeframe) is ``settle_ms`` in the past; the still-open candle never is, and close times only increase.
    Called again (after the actor restarted), ``closes()`` resumes after the last close it yielded, catching up on
    any it missed, rather than repeating history. It is an async generator: close it (``contextlib.aclosing``).

    ``watch_mids()`` is a separate task: it polls ``allMids`` into ``last_prices`` (only the feed's symbols) and
    ``last_prices_ms``, and hands each poll to a ``MidsSink`` (the dashboard's price monitor).
    """

    source: MarketSource = "hyperliquid"

    def __init__(
        self,
        info: InfoClient,
        symbols: Sequence[str],
        timeframe: str,
        clock: Clock,
        history_bars: int = 500,
        mids_interval_s: float = 5.0,
        *,
        settle_ms: int = 2_000,
    ) -> None:
        if timeframe not in HYPERLIQUID_INTERVALS:
            offered = ", ".join(HYPERLIQUID_INTERVALS)
            raise ValueError(f"timeframe {timeframe!r} is not offered by Hyperliquid; use one of {offered}")
        if not symbols or len(set(symbols)) != len(symbols):
            raise ValueError(f"symbols must be non-empty and distinct: {list(symbols)}")
        if history_bars < 1 or mids_interval_s <= 0 or settle_ms < 0:
            raise ValueError("history_bars must be >= 1, mids_interval_s > 0 and settle_ms >= 0")
        self.info = info
        self.symbols = tuple(symbols)
        self.timeframe = timeframe
        self.timeframe_ms = INTERVAL_MS[timeframe]
        self._clock = clock
        self.history_bars = history_bars
        self.mids_interval_s = mids_interval_s
        self.settle_ms = settle_ms
        self.last_prices: dict[str, float] = {}
        self.last_prices_ms: int | None = None
        self._last_close_ms: int | None = None  # the close time of the last batch yielded

    async def closes(self) -> AsyncGenerator[CloseBatch, None]:
        if self._last_close_ms is None:
            for batch in await self._history():
                self._last_close_ms = batch.close_ts
                yield batch
            if self._last_close_ms is None:  # no symbol has any candle: wait for the next close
                self._last_close_ms = self._latest_close_at_or_before(self._clock.now_ms() - self.settle_ms)
        while True:
            await self._sleep_until_ms(self._last_close_ms + self.timeframe_ms + self.settle_ms)
            now = self._clock.now_ms()
            # From the open of the candle after the last yielded one: exactly the candles we have not seen.
            fetched = await self._fetch(self._last_close_ms, now)
            for batch in self._batches(fetched, now, after_close_ms=self._last_close_ms):
                self._last_close_ms = batch.close_ts
                yield batch
            # A symbol without a candle for a close (no trades, a late venue) is absent from that batch; we move on
            # so a quiet market cannot stall the feed, and never go back (close times must only increase).
            self._last_close_ms = max(self._last_close_ms, self._latest_close_at_or_before(now - self.settle_ms))

    async def watch_mids(
        self, sink: MidsSink, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Poll ``allMids`` every ``mids_interval_s`` (on a fixed schedule, so a slow answer does not add drift) and
        hand ``sink`` each poll's mids. A failed poll (an ``InfoError``, once the client's retries are spent, or an
        answer without any of the feed's symbols) goes to ``sink.failed``; ``last_prices`` keeps the last good
        prices and ``last_prices_ms`` their time, and the next poll is tried on schedule."""
        task_status.started()
        next_poll = trio.current_time()
        while True:
            try:
                mids = await self.info.all_mids()
            except InfoError as exc:
                sink.failed(str(exc))
            else:
                self._took(mids, sink)
            next_poll = max(next_poll + self.mids_interval_s, trio.current_time())
            await trio.sleep_until(next_poll)

    def _took(self, mids: Mapping[str, float], sink: MidsSink) -> None:
        prices = {symbol: mids[symbol] for symbol in self.symbols if symbol in mids}
        missing = [symbol for symbol in self.symbols if symbol not in mids]
        if not prices:
            sink.failed(f"allMids has no price for {', '.join(missing)}")
            return
        if missing:
            logger.warning("allMids has no price for %s", ", ".join(missing))
        self.last_prices = prices
        self.last_prices_ms = self._clock.now_ms()
        sink.publish(Mids(ts=self.last_prices_ms, source=self.source, prices=prices))

    async def _history(self) -> list[CloseBatch]:
        now = self._clock.now_ms()
        last_open = self._latest_close_at_or_before(now) - self.timeframe_ms
        first_open = last_open - (self.history_bars - 1) * self.timeframe_ms
        fetched = await self._fetch(first_open, now)
        cutoff = now - self.settle_ms
        recent = {symbol: self._settled(bars, cutoff)[-self.history_bars :] for symbol, bars in fetched.items()}
        return self._batches(recent, now, after_close_ms=None)

    async def _fetch(self, start_ms: int, end_ms: int) -> dict[str, list[Bar]]:
        """Each symbol's candles opening in [start, end], one after another: deterministic, and gentle on the
        budget (a burst would only queue in the ``WeightBudget`` anyway)."""
        fetched: dict[str, list[Bar]] = {}
        for symbol in self.symbols:
            fetched[symbol] = await self.info.candles(symbol, self.timeframe, start_ms, end_ms)
        return fetched

    def _batches(
        self, bars_by_symbol: Mapping[str, Iterable[Bar]], now_ms: int, *, after_close_ms: int | None
    ) -> list[CloseBatch]:
        """Settled candles grouped by close time, oldest first; only closes after ``after_close_ms``."""
        by_close: defaultdict[int, dict[str, Bar]] = defaultdict(dict)
        for symbol in self.symbols:
            for bar in self._settled(bars_by_symbol.get(symbol, ()), now_ms - self.settle_ms):
                close_ms = bar.ts + self.timeframe_ms
                if after_close_ms is None or close_ms > after_close_ms:
                    by_close[close_ms][symbol] = bar
        return [CloseBatch(close_ts=close_ms, bars=by_close[close_ms]) for close_ms in sorted(by_close)]

    def _settled(self, bars: Iterable[Bar], cutoff_ms: int) -> list[Bar]:
        """The candles that closed at or before ``cutoff_ms`` (now less the settle delay): final, never open."""
        return [bar for bar in bars if bar.ts + self.timeframe_ms <= cutoff_ms]

    def _latest_close_at_or_before(self, now_ms: int) -> int:
        return now_ms // self.timeframe_ms * self.timeframe_ms

    async def _sleep_until_ms(self, target_ms: int) -> None:
        """Sleep until the injected clock reads ``target_ms``, re-reading it after each sleep: the event clock is not
        trio's, and the two may drift (an NTP step), so no trio.Event could say when it is time."""
        while (remaining_ms := target_ms - self._clock.now_ms()) > 0:  # noqa: ASYNC110
            await trio.sleep(remaining_ms / 1000)


async def reachable(info: InfoClient, timeout_s: float = 3.0) -> bool:
    """Whether Hyperliquid's info API answers ``allMids`` with prices within ``timeout_s``.

    The runtime's ``auto`` market mode uses it: paper trading runs on live data when this is True, and on the
    simulation, with a loud warning, when it is not. Never raises for a venue fault.
    """
    with trio.move_on_after(timeout_s):
        try:
            mids = await info.all_mids()
        except InfoError as exc:
            logger.warning("Hyperliquid info API is not reachable: %s", exc)
            return False
        return bool(mids)
    logger.warning("Hyperliquid info API did not answer within %.1f s", timeout_s)
    return False
