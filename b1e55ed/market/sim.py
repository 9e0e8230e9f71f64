"""A seeded synthetic market, labelled "simulated": never mistaken for a real one.

Each bar's log return is ``drift + sigma * z``. ``sigma`` follows GARCH(1,1), so calm and wild stretches
cluster; ``z`` is Student-t (fat tails), part shared by every symbol (a market factor) and part the symbol's own;
``drift`` is a slow AR(1) process, so trends build up and reverse, and RSI extremes and momentum do occur. Highs
and lows extend past the open and close by an amount that scales with sigma; volume is log-normal and rises with
the size of the move and with volatility.

Everything is a function of the seed. Each symbol draws from its own streams, derived from the seed and its
name (never Python's salted ``hash``), so adding a symbol leaves every other symbol's path unchanged; the
market factor's stream depends on the seed alone. Generating in chunks gives the same bars as generating at once.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import trio

from b1e55ed.clock import Clock
from b1e55ed.market.bars import BarArrays
from b1e55ed.market.feed import CloseBatch, Mids, MidsSink
from b1e55ed.messages import Bar, MarketSource

YEAR_MS: Final = 365 * 86_400_000
HOUR_MS: Final = 3_600_000
DEFAULT_START_PRICE: Final = 100.0
DEFAULT_START_PRICES: Final[Mapping[str, float]] = MappingProxyType({"BTC": 40_000.0, "ETH": 2_500.0, "SOL": 100.0})
_MARKET_STREAM: Final = 0x6D61726B6574  # "market": the shared factor's stream key
_MIDS_STREAM: Final = 0x6D696473  # "mids": the simulated mid prices' stream key
_CHUNK: Final = 256

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SimParams:
    """The model's knobs; the defaults look like a liquid crypto market (about 70% a year)."""

    annual_vol: float = 0.70
    vol_dispersion: float = 0.25  # log-sd of each symbol's vol multiplier
    garch_alpha: float = 0.09
    garch_beta: float = 0.89
    tail_df: float = 4.0
    shock_cap: float = 10.0  # standardised shocks beyond ±cap are clipped: no -60% hour
    market_weight: float = 0.6  # share of a symbol's shock that comes from the market factor
    trend_days: float = 3.0  # how long a drift regime lasts, in time
    trend_strength: float = 0.06  # stationary sd of the drift, as a fraction of the per-bar vol
    range_scale: float = 0.3  # mean extension of high/low beyond open/close, in sigmas
    volume_usd_per_hour: float = 10_000_000.0
    volume_move_beta: float = 0.35  # log-volume per unit of |shock|
    volume_vol_beta: float = 0.8  # log-volume per unit of log(sigma / normal sigma)
    volume_noise: float = 0.35


def _stream_key(symbol: str) -> int:
    return int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "big")


def _generators(seed: int, key: int, count: int) -> list[np.random.Generator]:
    children = np.random.SeedSequence([seed, key]).spawn(count)
    return [np.random.Generator(np.random.PCG64(child)) for child in children]


class _SymbolStreams:
    """One symbol's random sources, one per quantity, so chunked draws equal one big draw."""

    def __init__(self, seed: int, symbol: str) -> None:
        setup, self.shocks, self.drift, self.ranges, self.volume = _generators(seed, _stream_key(symbol), 5)
        self.vol_normal, self.drift_start = setup.standard_normal(2).tolist()


class SimPaths:
    """The market's paths as a continuing process: each ``next(n)`` extends them by n bars."""

    def __init__(self, market: SimMarket) -> None:
        self.market = market
        p = market.params
        self._streams = [_SymbolStreams(market.seed, symbol) for symbol in market.symbols]
        (self._market_shocks,) = _generators(market.seed, _MARKET_STREAM, 1)
        bar_vol = p.annual_vol * math.sqrt(market.timeframe_ms / YEAR_MS)
        self._sigma: Floats = np.array([bar_vol * math.exp(p.vol_dispersion * s.vol_normal) for s in self._streams])
        self._omega: Floats = self._sigma**2 * (1.0 - p.garch_alpha - p.garch_beta)
        self._phi = math.exp(-market.timeframe_ms / (p.trend_days * 86_400_000))
        drift_sd: Floats = p.trend_strength * self._sigma
        self._drift_noise: Floats = drift_sd * math.sqrt(1.0 - self._phi**2)
        self._drift: Floats = drift_sd * np.array([s.drift_start for s in self._streams])
        self._variance: Floats = self._sigma**2
        self._close = [market.start_price(symbol) for symbol in market.symbols]
        self._t_scale = math.sqrt((p.tail_df - 2.0) / p.tail_df)  # makes Student-t shocks unit-variance
        self._volume_base = p.volume_usd_per_hour * market.timeframe_ms / HOUR_MS

    def next(self, n: int, first_ts: int) -> dict[str, BarArrays]:
        """The next ``n`` bars of every symbol, the first opening at ``first_ts``."""
        p, symbols = self.market.params, self.market.symbols
        market_shock = self._shocks(self._market_shocks, n)
        own = np.stack([self._shocks(s.shocks, n) for s in self._streams], axis=1)
        shocks = p.market_weight * market_shock[:, None] + math.sqrt(1.0 - p.market_weight**2) * own
        drift_noise = np.stack([s.drift.standard_normal(n) for s in self._streams], axis=1) * self._drift_noise
        returns, sigmas = self._garch(shocks, drift_noise)
        ts = first_ts + self.market.timeframe_ms * np.arange(n, dtype=np.int64)
        out: dict[str, BarArrays] = {}
        for j, symbol in enumerate(symbols):
            # Contiguous copies: each symbol's math runs the same numpy loops however many symbols there are.
            columns = (np.ascontiguousarray(a[:, j]) for a in (returns, sigmas, shocks))
            out[symbol] = self._candles(j, ts, *columns)
        return out

    def _shocks(self, rng: np.random.Generator, n: int) -> Floats:
        cap = self.market.params.shock_cap
        return np.clip(rng.standard_t(self.market.params.tail_df, n) * self._t_scale, -cap, cap)

    def _garch(self, shocks: Floats, drift_noise: Floats) -> tuple[Floats, Floats]:
        """Run the variance and drift recursions; both are linear given the shocks, so one loop steps both.

        GARCH(1,1): v[t+1] = omega + alpha * v[t] * z[t]**2 + beta * v[t] = v[t] * (beta + alpha * z[t]**2) + omega.
        Drift AR(1): d[t] = phi * d[t-1] + noise[t]. The state row is [v..., d...], one entry per symbol each.
        """
        p, k, n = self.market.params, shocks.shape[1], len(shocks)
        scale = np.concatenate((p.garch_beta + p.garch_alpha * shocks * shocks, np.full((n, k), self._phi)), axis=1)
        shift = np.concatenate((np.broadcast_to(self._omega, (n, k)), drift_noise), axis=1)
        state = np.empty((n + 1, 2 * k))
        state[0] = np.concatenate((self._variance, self._drift))
        for t in range(n):
            np.multiply(state[t], scale[t], out=state[t + 1])
            np.add(state[t + 1], shift[t], out=state[t + 1])
        self._variance, self._drift = state[n, :k].copy(), state[n, k:].copy()
        sigmas: Floats = np.sqrt(state[:n, :k])
        returns: Floats = state[1:, k:] + sigmas * shocks
        return returns, sigmas

    def _candles(self, j: int, ts: npt.NDArray[np.int64], returns: Floats, sigma: Floats, shock: Floats) -> BarArrays:
        p, streams, previous = self.market.params, self._streams[j], self._close[j]
        growth: Floats = np.exp(returns)
        path: Floats = np.cumprod(np.concatenate((np.array([previous]), growth)))
        open_, close = path[:-1], path[1:]
        extend = p.range_scale * sigma[:, None] * streams.ranges.standard_exponential((len(ts), 2))
        high = np.maximum(open_, close) * np.exp(extend[:, 0])
        low = np.minimum(open_, close) * np.exp(-extend[:, 1])
        log_volume = (
            p.volume_move_beta * np.abs(shock)
            + p.volume_vol_beta * np.log(sigma / self._sigma[j])
            + p.volume_noise * streams.volume.standard_normal(len(ts))
        )
        volume = self._volume_base * np.exp(log_volume) / close
        if len(ts):
            self._close[j] = float(close[-1])
        return BarArrays(ts, open_, high, low, close, volume)


class SimMarket:
    """The recipe for a simulated market: symbols, timeframe, seed, start time and prices."""

    source: MarketSource = "simulated"

    def __init__(
        self,
        symbols: Sequence[str],
        timeframe_ms: int,
        seed: int,
        start_ms: int = 0,
        start_prices: Mapping[str, float] | None = None,
        params: SimParams | None = None,
    ) -> None:
        if not symbols or len(set(symbols)) != len(symbols):
            raise ValueError(f"need distinct symbols, got {list(symbols)}")
        if timeframe_ms <= 0 or seed < 0:
            raise ValueError(f"need timeframe_ms > 0 and seed >= 0, got {timeframe_ms} and {seed}")
        self.symbols = tuple(symbols)
        self.timeframe_ms = timeframe_ms
        self.seed = seed
        self.start_ms = start_ms
        self.params = params or SimParams()
        self._start_prices = dict(start_prices or {})

    def start_price(self, symbol: str) -> float:
        return self._start_prices.get(symbol, DEFAULT_START_PRICES.get(symbol, DEFAULT_START_PRICE))

    def paths(self) -> SimPaths:
        """A fresh process at the start: independent of any other ``paths()``."""
        return SimPaths(self)

    def bars(self, n: int) -> dict[str, BarArrays]:
        """The first ``n`` bars of every symbol, from ``start_ms``."""
        return self.paths().next(n, self.start_ms)


class SimFeed:
    """A simulated market as a ``Feed``.

    ``pace="max"`` yields bars as fast as the consumer takes them, timed from the market's ``start_ms``.
    ``pace="wall"`` yields each bar when it closes in real time: bars are timed from the clock's time when the
    feed is made, rounded down to the timeframe. ``bars`` limits how many bars are yielded (None: never ends).
    At wall pace it is also a ``PricePoller``: ``watch_mids`` offers simulated mid prices between closes.
    """

    source: MarketSource = "simulated"

    def __init__(
        self,
        market: SimMarket,
        bars: int | None = None,
        pace: Literal["max", "wall"] = "max",
        clock: Clock | None = None,
        mids_interval_s: float = 5.0,
    ) -> None:
        if pace == "wall" and clock is None:
            raise ValueError("a wall-paced sim feed needs a clock")
        self.market = market
        self.bars = bars
        self.pace = pace
        self.clock = clock
        tf = market.timeframe_ms
        self.start_ms = clock.now_ms() // tf * tf if pace == "wall" and clock is not None else market.start_ms
        self.mids_interval_s = mids_interval_s
        self._paths = market.paths()
        self._latest: dict[str, tuple[int, float]] = {}  # symbol → (close time, close) of its latest bar yielded
        self._history_taken = False
        self._started = False

    def history(self, n: int) -> dict[str, BarArrays]:
        """A warm-up of ``n`` bars closing at or before ``start_ms``; the live bars continue the same path."""
        if self._started or self._history_taken:
            raise RuntimeError("history() must be called once, before closes()")
        self._history_taken = True
        history = self._paths.next(n, self.start_ms - n * self.market.timeframe_ms)
        if n:
            self._latest = {symbol: (self.start_ms, float(bars.close[-1])) for symbol, bars in history.items()}
        return history

    async def closes(self) -> AsyncIterator[CloseBatch]:
        if self._started:
            raise RuntimeError("a SimFeed yields its closes once")
        self._started = True
        tf, symbols = self.market.timeframe_ms, self.market.symbols
        started, start_clock = trio.current_time(), self.clock.now_ms() if self.clock else 0
        next_open, emitted = self.start_ms, 0
        while self.bars is None or emitted < self.bars:
            count = _CHUNK if self.bars is None else min(_CHUNK, self.bars - emitted)
            chunk = self._paths.next(count, next_open)
            rows: list[list[Bar]] = [chunk[symbol].to_bars() for symbol in symbols]
            for i in range(count):
                close_ts = next_open + (i + 1) * tf
                if self.pace == "wall":
                    await trio.sleep_until(started + (close_ts - start_clock) / 1000)
                else:
                    await trio.lowlevel.checkpoint()
                batch = CloseBatch(close_ts, {symbol: rows[j][i] for j, symbol in enumerate(symbols)})
                self._latest.update({symbol: (close_ts, bar.close) for symbol, bar in batch.bars.items()})
                yield batch
            next_open += count * tf
            emitted += count

    async def watch_mids(self, sink: MidsSink) -> None:
        """Simulated mid prices every ``mids_interval_s``, labelled ``simulated``, so the price monitor can be seen
        and tested without a venue. Each symbol's mid is a random walk from its latest close, starting again at
        every close, in steps of the model's annual volatility scaled to the interval; it knows nothing of the next
        bar. The steps are a function of the seed, the symbol and the close time. At full speed there is no time to
        poll in, and it returns at once."""
        if self.pace != "wall" or self.clock is None:
            return
        step_sd = self.market.params.annual_vol * math.sqrt(self.mids_interval_s * 1000 / YEAR_MS)
        walks: dict[str, tuple[int, np.random.Generator, float]] = {}  # symbol → (close time, steps, log level)
        next_poll = trio.current_time()
        while True:
            prices: dict[str, float] = {}
            for symbol in self.market.symbols:
                if symbol not in self._latest:
                    continue
                close_ts, close = self._latest[symbol]
                walk = walks.get(symbol)
                if walk is None or walk[0] != close_ts:
                    (steps,) = _generators(self.market.seed, _MIDS_STREAM ^ _stream_key(symbol) ^ close_ts, 1)
                    walk = (close_ts, steps, 0.0)
                _, steps, level = walk
                level += step_sd * float(steps.standard_normal())
                walks[symbol] = (close_ts, steps, level)
                prices[symbol] = close * math.exp(level)
            if prices:
                sink.publish(Mids(ts=self.clock.now_ms(), source=self.source, prices=prices))
            next_poll = max(next_poll + self.mids_interval_s, trio.current_time())
            await trio.sleep_until(next_poll)
