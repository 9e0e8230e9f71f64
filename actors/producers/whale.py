"""Whale producer: large wallets accumulating or distributing, seen as net changes of their positions.

Positions. Every ``interval_s`` the perp positions of each of ``addresses`` are read from Hyperliquid
(``clearinghouseState``, no key). Each read is compared with the previous read of the same address: the change of
signed size per coin is a move (a new position, one grown, cut, closed or flipped). The first read is only the
baseline: there is no signal before a second one.

Score, in USD: the moves of the last ``window_s`` summed across addresses (net units) × the symbol's last close.
With an Allium key and ``allium_query_id`` (a saved query, see ``b1e55ed.sources.allium``), the net exchange
outflow over the window, × ``allium_weight``, is added: coins leaving exchanges read as accumulation, coins sent to
exchanges as distribution. The query is started every ``allium_interval_s`` and collected in a later refresh.

Signal. |score| ≥ ``threshold_usd`` — or |net units| ≥ ``threshold_units[symbol]`` when set — is long for
accumulation, short for distribution. Conviction is 5 at the threshold plus one per doubling past it, capped at 10:
three wallets adding 120 BTC at $58,234 ($6.99M, 14× the default $500k) give 5 + ⌊log2 14⌋ = 8, as in the spec.
Anything smaller, including wallets moving against each other, is neutral with conviction 1. The rationale names
the wallets (``0x1234…abcd``) and their sizes; the metadata lists every move.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final

import msgspec

from b1e55ed.market.bars import BarsView
from b1e55ed.messages import Direction, Signal
from b1e55ed.plugins import PluginSetup
from b1e55ed.sources import SourceUnavailable
from b1e55ed.sources.allium import SUCCESS, AlliumClient, AlliumQueryFailed, ExchangeFlow, exchange_flows

OFFLINE: Final = "disabled: offline (replayed or simulated market)"
NO_ADDRESSES: Final = "disabled: no whale addresses configured"
_Seconds = Annotated[float, msgspec.Meta(gt=0)]
_EPSILON: Final = 1e-9
_SIZE_DECIMALS: Final = 10  # sizes arrive as decimal strings; a difference is rounded to drop float residue


@dataclass(frozen=True)
class _Move:
    ts: int  # as-of of the read that saw it
    address: str
    coin: str
    units: float  # signed: bought (or shorted less) > 0


class WhaleProducer:
    class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
        addresses: tuple[Annotated[str, msgspec.Meta(pattern=r"^0x[0-9a-fA-F]{40}$")], ...] = ()
        interval_s: _Seconds = 60
        window_s: _Seconds = 86_400
        threshold_usd: Annotated[float, msgspec.Meta(gt=0)] = 500_000
        threshold_units: dict[str, Annotated[float, msgspec.Meta(gt=0)]] = msgspec.field(default_factory=dict)
        allium_query_id: str = ""
        allium_interval_s: _Seconds = 3600
        allium_max_wait_s: _Seconds = 900
        allium_weight: float = 1.0

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self._services = services = setup.services
        params = setup.params_as(self.Params)
        self.addresses = params.addresses
        self.interval_ms = round(params.interval_s * 1000)
        self.window_ms = round(params.window_s * 1000)
        self.threshold_usd = params.threshold_usd
        self.threshold_units = {symbol.upper(): value for symbol, value in params.threshold_units.items()}
        self._positions: dict[str, dict[str, float]] = {}
        self._prices: dict[str, float] = {}
        self._moves: deque[_Move] = deque()
        self._reads = 0
        self._last_read: int | None = None
        # Allium, optional
        self.allium_query_id = params.allium_query_id
        self.allium_interval_ms = round(params.allium_interval_s * 1000)
        self.allium_max_wait_ms = round(params.allium_max_wait_s * 1000)
        self.allium_weight = params.allium_weight
        self._allium: AlliumClient | None = None
        self.allium_status = "disabled: no ALLIUM key"
        if services.keys.allium_api_key:
            self.allium_status = "disabled: no allium_query_id" if not self.allium_query_id else "waiting"
            if self.allium_query_id and services.http is not None:
                self._allium = AlliumClient(services.http, services.keys.allium_api_key)
        self._allium_run = ""
        self._allium_started = 0
        self._allium_last_start: int | None = None
        self._flows: dict[str, ExchangeFlow] = {}
        self._flows_at: int | None = None

    def availability(self) -> str | None:
        if self._services.offline:
            return OFFLINE
        if not self.addresses:
            return NO_ADDRESSES
        if self._services.info is None:
            return "disabled: no Hyperliquid info client"
        return None

    async def refresh(self, symbols: Sequence[str], as_of: int) -> None:
        await self._read_positions(as_of)
        if self._allium is not None:
            try:
                await self._step_allium(symbols, as_of)
            except Exception as exc:
                self.allium_status = f"failed: {exc}"
                raise

    async def _read_positions(self, as_of: int) -> None:
        """Read every address, then record the moves: a failed read changes nothing (all or none)."""
        info = self._services.info
        assert info is not None
        if self._last_read is not None and as_of - self._last_read < self.interval_ms:
            return
        reads: dict[str, dict[str, float]] = {}
        prices: dict[str, float] = {}
        for address in self.addresses:
            state = await info.clearinghouse_state(address)
            reads[address] = {p.coin: p.size for p in state.positions if p.size}
            prices.update(
                {p.coin: p.position_value / abs(p.size) for p in state.positions if p.size and p.position_value}
            )
        for address, sizes in reads.items():
            before = self._positions.get(address)
            if before is not None:
                for coin in sorted(before.keys() | sizes.keys()):
                    units = round(sizes.get(coin, 0.0) - before.get(coin, 0.0), _SIZE_DECIMALS)
                    if units:
                        self._moves.append(_Move(as_of, address, coin, units))
            self._positions[address] = sizes
        self._prices.update(prices)
        self._reads += 1
        self._last_read = as_of
        while self._moves and self._moves[0].ts <= as_of - self.window_ms:
            self._moves.popleft()

    async def _step_allium(self, symbols: Sequence[str], as_of: int) -> None:
        assert self._allium is not None
        if not self._allium_run:
            if self._allium_last_start is not None and as_of - self._allium_last_start < self.allium_interval_ms:
                return
            parameters = {"symbols": ",".join(symbols), "window_hours": f"{self.window_ms / 3_600_000:g}"}
            run_id = await self._allium.start_query(self.allium_query_id, parameters)
            self._allium_run, self._allium_started, self._allium_last_start = run_id, as_of, as_of
            self.allium_status = f"waiting: query run {run_id}"
            return
        run_id = self._allium_run
        try:
            status = await self._allium.query_status(run_id)
        except AlliumQueryFailed:
            self._allium_run = ""
            raise
        if status != SUCCESS:
            if as_of - self._allium_started > self.allium_max_wait_ms:
                self._allium_run = ""
                waited = (as_of - self._allium_started) / 1000
                raise SourceUnavailable(
                    "GET /api/v1/explorer/query-runs/{run_id}/status",
                    f"query run {run_id} still {status} after {waited:g} s",
                )
            return
        result = await self._allium.query_results(run_id)
        self._allium_run = ""
        self._flows, self._flows_at = exchange_flows(result), self._allium_started
        self.allium_status = "ok"

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None:
        if self._reads < 2:
            return None  # one read is a baseline, not a change
        wallets: dict[str, float] = {}
        for move in self._moves:
            if move.coin == symbol and move.ts > as_of - self.window_ms:
                wallets[move.address] = round(wallets.get(move.address, 0.0) + move.units, _SIZE_DECIMALS)
        wallets = {address: units for address, units in wallets.items() if units}
        net = round(sum(wallets.values()), _SIZE_DECIMALS)
        price = bars.last_close if len(bars) else self._prices.get(symbol, 0.0)
        flow = self._flows.get(symbol)
        if self._flows_at is None or as_of - self._flows_at > 2 * self.allium_interval_ms:
            flow = None
        flow_usd = flow.net_outflow_usd * self.allium_weight if flow is not None else 0.0
        score = net * price + flow_usd
        by_usd = abs(score) / self.threshold_usd
        by_units = abs(net) / self.threshold_units[symbol] if symbol in self.threshold_units else 0.0
        multiple = max(by_usd, by_units)
        direction: Direction | None = None
        if multiple >= 1.0 - _EPSILON:
            sign = score if by_usd >= by_units else net
            direction = "long" if sign > 0 else "short"
        window = f"{self.window_ms / 3_600_000:g}h"
        moves = ", ".join(f"{short_address(a)} {u:+,.6g}" for a, u in sorted(wallets.items(), key=lambda w: -abs(w[1])))
        flows = f"; exchanges net {'outflow' if flow_usd >= 0 else 'inflow'} {_usd(flow_usd)}" if flow else ""
        if direction is None:
            what = f"net {net:+,.6g} {symbol} ({_usd(net * price)})" if wallets else f"no position changes in {symbol}"
            rationale = f"whales: {what} over {window}, under {_usd(self.threshold_usd)}"
            rationale += f": {moves}{flows}" if wallets else flows
            conviction = 1
        else:
            agreeing = sum(1 for units in wallets.values() if (units > 0) == (direction == "long"))
            verb = "accumulated" if direction == "long" else "distributed"
            rationale = (
                f"{agreeing} large wallet{'s' if agreeing != 1 else ''} {verb} {abs(net):,.6g} {symbol} "
                f"({_usd(net * price)}) over {window}: {moves}{flows}"
            )
            conviction = min(10, 5 + math.floor(math.log2(multiple) + _EPSILON))
        metadata: dict[str, Any] = {
            "net_units": net,
            "net_usd": round(net * price, 2),
            "price": price,
            "score_usd": round(score, 2),
            "threshold_usd": self.threshold_usd,
            "window_s": self.window_ms // 1000,
            "wallets": [
                {"address": a, "short": short_address(a), "units": u, "usd": round(u * price, 2)}
                for a, u in wallets.items()
            ],
            "watched": len(self.addresses),
            "allium": self.allium_status,
        }
        if flow is not None:
            metadata["exchange_flow"] = {"inflow_usd": flow.inflow_usd, "outflow_usd": flow.outflow_usd}
        return Signal(
            symbol=symbol,
            signal=direction or "neutral",
            conviction=conviction,
            rationale=rationale,
            producer=self.name,
            timestamp=as_of // 1000,
            metadata=metadata,
        )


def short_address(address: str) -> str:
    """``0x1234…abcd``: enough to recognise a wallet in a sentence."""
    return f"{address[:6]}…{address[-4:]}"


def _usd(value: float) -> str:
    size = abs(value)
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= scale:
            return f"${size / scale:.{2 if scale > 1e3 else 0}f}{suffix}"
    return f"${size:,.0f}"
