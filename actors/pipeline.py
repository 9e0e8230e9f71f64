"""The trading loop, wired: channels, actors and their dependency order, built from the config.

    Brain ──tick──► each producer ──report──► Enricher ──► Karma ──enriched cycle──► each strategy ──report──► OMS
      └─────tick──────────────────────────────►┘                └──────────enriched cycle──────────────►┘

Started in dependency order: the HTTP API (it needs only the log), the kill switch (it restores the trading
state), the trading stages, and the brain (the source) last. The runtime resolves this class from
``runtime.pipeline`` in the config.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio

from actors.brain import Brain
from actors.enricher import ContextSource, DailyIndexSource, Enricher, EnrichmentPlugin
from actors.featurestore import FeatureStore
from actors.karma import Karma
from actors.killswitch import KillSwitch
from actors.oms.ledger import Ledger
from actors.oms.oms import OMS
from actors.producers.actor import ProducerActor
from actors.strategies.actor import strategy_actor
from b1e55ed.alerts.wiring import commands
from b1e55ed.api.metrics import ApiMetrics
from b1e55ed.api.wiring import api_actor, api_context
from b1e55ed.barrier import CycleBarrier
from b1e55ed.clock import ManualClock
from b1e55ed.collect import basis_premium
from b1e55ed.config import Config, PluginSpec
from b1e55ed.cycle import EnrichedCycles, Ticks
from b1e55ed.hyperliquid.info import InfoClient
from b1e55ed.karma.book import PRODUCERS, KarmaBook
from b1e55ed.market.feed import Feed
from b1e55ed.market.funding import FundingHistory
from b1e55ed.market.hyperliquid import HyperliquidFeed
from b1e55ed.market.mids import PriceBoard
from b1e55ed.market.replay import DataError, ReplayFeed, load_history
from b1e55ed.market.sentiment import FearGreedIndex
from b1e55ed.market.sim import SimFeed, SimMarket
from b1e55ed.market.state import MarketState
from b1e55ed.plugins import Keys, PluginSetup, Producer, Services, Strategy
from b1e55ed.ratelimit import WeightBudget
from b1e55ed.registry import resolve_enabled
from b1e55ed.runtime import Runtime, Supervised
from b1e55ed.timeframes import INTERVAL_MS
from b1e55ed.trading_config import day_ms, is_driven
from b1e55ed.venues.base import Venue
from b1e55ed.venues.paper import PaperVenue

logger = logging.getLogger(__name__)


class TradingPipeline:
    scores_karma = True  # the benchmark's baseline turns it off (bench/replay.py); the product never does

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.config: Config = runtime.config
        self.timeframe_ms = INTERVAL_MS[self.config.timeframe]
        # What the stages read: each cycle's window, behind a batch of cycles whose bars are loaded ahead of it.
        brain = self.config.brain
        self.market = MarketState(self.timeframe_ms, keep=brain.window_bars + brain.replay_batch + 1)
        self.barrier = CycleBarrier()
        self.http, self.info = self._hyperliquid()
        self.services = self._services()

    def stages(self) -> list[Supervised]:
        config, runtime = self.config, self.runtime
        producers: list[Producer] = self._plugins(config.brain.producers, "brain.producers")
        strategies: list[Strategy] = self._plugins(config.brain.strategies, "brain.strategies")
        enrichers: list[EnrichmentPlugin] = self._plugins(config.brain.enrichers, "brain.enrichers")

        producer_inboxes = [runtime.channel(1) for _ in producers]
        enricher_ticks = runtime.channel(1)
        producer_reports = runtime.channel(max(1, len(producers)))
        karma_cycles = runtime.channel(1)
        strategy_inboxes = [runtime.channel(1) for _ in strategies]
        oms_cycles = runtime.channel(1)
        strategy_reports = runtime.channel(max(1, len(strategies)))

        venue = self.venue()
        log, clock = runtime.log, runtime.clock
        driven = is_driven(config.market)
        stages = [
            Supervised(
                "killswitch",
                KillSwitch(
                    gate=runtime.gate, log=log, clock=clock, db=runtime.db_path, poll_s=config.killswitch.poll_s
                ),
                source=True,  # requests come from outside: at shutdown it stops at once, with nothing to drain
            ),
            Supervised(
                "oms",
                OMS(
                    strategies=[s.name for s in strategies],
                    cycles=oms_cycles[1],
                    reports=strategy_reports[1],
                    venue=venue,
                    market=self.market,
                    log=log,
                    clock=clock,
                    gate=runtime.gate,
                    barrier=self.barrier,
                    policy=config.risk,
                    ledger=Ledger(config.paper.starting_equity),
                    killswitch=config.killswitch,
                    driven=driven,
                    follow_clock=clock.set if isinstance(clock, ManualClock) else None,
                ),
            ),
        ]
        window = config.brain.window_bars
        scored = self.scores_karma
        rule_books = [
            KarmaBook(strategy.name, config.karma, self.timeframe_ms, window) if scored else None
            for strategy in strategies
        ]
        for strategy, (_, inbox), book in zip(strategies, strategy_inboxes, rule_books, strict=True):
            stages.append(Supervised(strategy.name, strategy_actor(strategy, inbox, strategy_reports[0], book)))
        scored_outputs: list[trio.MemorySendChannel[EnrichedCycles]] = [send for send, _ in strategy_inboxes] + [
            oms_cycles[0]
        ]
        if scored:
            karma = Karma(
                book=KarmaBook(PRODUCERS, config.karma, self.timeframe_ms, window),
                rules=[book for book in rule_books if book is not None],
                log=log,
                cycles=karma_cycles[1],
                outputs=scored_outputs,
                fee_rate=config.paper.fees.taker,
            )
            stages.append(Supervised("karma", karma))
        stages.append(
            Supervised(
                "enricher",
                Enricher(
                    producers=[p.name for p in producers],
                    ticks=enricher_ticks[1],
                    reports=producer_reports[1],
                    outputs=[karma_cycles[0]] if scored else scored_outputs,
                    health=runtime.health,
                    deadline_s=None if driven else config.brain.producer_deadline_s,
                    plugins=enrichers,
                    sources=self._context_sources(),
                ),
            )
        )
        for producer, (_, inbox) in zip(producers, producer_inboxes, strict=True):
            stages.append(Supervised(producer.name, ProducerActor(producer, inbox, producer_reports[0])))
        brain_outputs: list[trio.MemorySendChannel[Ticks]] = [send for send, _ in producer_inboxes] + [
            enricher_ticks[0]
        ]
        metrics = ApiMetrics()
        prices = PriceBoard(runtime.health)  # live mid prices: the brain's poller → the dashboard, never the log
        brain = Brain(
            open_feed=self.open_feed,
            market=self.market,
            window=config.brain.window_bars,
            outputs=brain_outputs,
            barrier=self.barrier,
            log=log,
            clock=clock,
            health=runtime.health.register("brain"),
            driven=driven,
            interval_s=config.brain.interval_s,
            on_exhausted=lambda: runtime.request_stop("market data exhausted"),
            # Batches only at full speed: a paced replay hands each cycle on when its candles close.
            batch=config.brain.replay_batch if driven and not config.market.speed else 1,
            on_cycle_time=metrics.cycle_timed,
            prices=prices,
            on_progress=runtime.service.progress,
        )
        stages.append(Supervised("brain", brain, source=True))
        # Off the trading path: it follows the log; at shutdown it catches up, flushes and returns.
        features = FeatureStore(log=log, root=Path(config.data_dir) / "features", stopping=runtime.stopping)
        stages.append(Supervised("features", features))
        api = api_context(
            runtime,
            strategies=[s.name for s in strategies],
            producers=[p.name for p in producers],
            run_cycle=brain.scan,
            next_cycle=lambda: brain.next_cycle_ms,
            metrics=metrics,
            busy=lambda: brain.cycle > self.barrier.settled,
            prices=prices,
        )
        if config.api.enabled:  # first: a bad API address stops the process before the first cycle can trade
            stages.insert(0, api_actor(api))
        if runtime.alerter is not None:  # commands from Telegram, answered from the API's read model
            health = runtime.health.register("telegram")
            if control := commands(config, runtime.alerter.telegram, read=api.read, db=runtime.db_path, health=health):
                stages.append(Supervised("telegram", control, source=True))  # requests from outside: stops first
        return stages

    def _plugins(self, specs: Sequence[PluginSpec], key: str) -> list:  # type: ignore[type-arg]
        return [
            cls(PluginSetup(spec.name, self.timeframe_ms, dict(spec.params), self.services))
            for spec, cls in resolve_enabled(specs, key=key)
        ]

    def _hyperliquid(self) -> tuple[httpx.AsyncClient | None, InfoClient | None]:
        """The process's one HTTP client, Hyperliquid info client and request-weight budget (per IP), shared by the
        feed, the producers and the live venue; closed when the runtime ends. None when nothing goes online."""
        config, market = self.config, self.config.market
        online = market.source == "hyperliquid"
        if not online and config.mode != "live":
            return None, None
        http = httpx.AsyncClient(timeout=market.timeout_s)
        self.runtime.resources.push_async_callback(http.aclose)
        if not online:
            return http, None
        budget = WeightBudget(config.hyperliquid.weight_per_min)
        return http, InfoClient(http, base_url=market.hyperliquid_url, timeout_s=market.timeout_s, budget=budget)

    def _services(self) -> Services:
        """What plug-ins share: history from files, and, live, the HTTP client and Hyperliquid's info API."""
        config, market = self.config, self.config.market
        data = Path(config.data_dir)
        funding_path = _first_existing(market.funding, data / "funding" / "binance")
        fear_path = _first_existing(market.fear_greed, data / "fear_greed")
        funding = FundingHistory.load(funding_path, list(config.symbols)) if funding_path else None
        if funding is not None and funding.report.total_skipped:
            logger.warning("funding data: %s", funding.report.summary())
        keys = Keys(apify_token=config.keys.apify_token.reveal(), allium_api_key=config.keys.allium_api_key.reveal())
        # Only a real market is worth real funding, social and whale data: a replay or the simulation is offline.
        offline = self.info is None
        return Services(
            offline=offline,
            http=None if offline else self.http,
            info=self.info,
            funding=funding,
            fear_greed=FearGreedIndex.load(fear_path) if fear_path else None,
            keys=keys,
        )

    def venue(self) -> Venue:
        """Paper by default; live, Hyperliquid on the process's HTTP client, sharing its info client when both
        read the same URL."""
        config = self.config
        if config.mode == "live":
            from b1e55ed.venues.hyperliquid import HyperliquidVenue  # the signing stack is slow to import (0.5 s)

            assert self.http is not None  # every live run has one (``_hyperliquid``)
            same_url = self.info is not None and self.info.base_url == config.hyperliquid.url.rstrip("/")
            info = self.info if same_url else None
            # The key is in the environment only (the CLI refuses a file that sets it); it goes to the signer, never
            # to a log line.
            key = config.keys.hyperliquid_private_key.reveal()
            return HyperliquidVenue.from_config(config.hyperliquid, key, http=self.http, info=info)
        return PaperVenue(
            fees=config.paper.fees,
            slippage=config.paper.slippage,
            latency_s=0.0 if is_driven(config.market) else config.paper.latency_s,
            min_notional=config.risk.min_notional,
            timeframe_ms=self.timeframe_ms,
            funding=self.services.funding if config.paper.funding else None,
        )

    def _context_sources(self) -> dict[str, ContextSource]:
        sources: dict[str, ContextSource] = {}
        if (fear_greed := self.services.fear_greed) is not None:
            sources["fear_greed"] = DailyIndexSource(fear_greed)
        if (Path(self.config.data_dir) / "basis").is_dir():
            sources["basis"] = basis_premium(Path(self.config.data_dir))
        return sources

    @asynccontextmanager
    async def open_feed(self) -> AsyncIterator[Feed]:
        market, config = self.config.market, self.config
        if market.source.startswith("replay:"):
            data = load_history(
                Path(market.source.removeprefix("replay:")),
                symbols=list(config.symbols),
                start_ms=day_ms(market.start),
                end_ms=day_ms(market.end),
                timeframe_ms=self.timeframe_ms,
            )
            if data.report.total_skipped:
                logger.warning("replay data: %s", data.report.summary())
            yield ReplayFeed(data, speed=market.speed or None)
            return
        if self.info is not None:
            yield HyperliquidFeed(
                self.info, list(config.symbols), config.timeframe, self.runtime.clock, history_bars=market.history_bars
            )
            return
        yield self._sim_feed()

    def _sim_feed(self) -> Feed:
        market = self.config.market
        sim = SimMarket(
            list(self.config.symbols),
            self.timeframe_ms,
            seed=market.sim_seed,
            start_ms=day_ms(market.start) or self.runtime.clock.now_ms(),
        )
        feed = SimFeed(sim, bars=market.sim_bars or None, pace=market.sim_pace, clock=self.runtime.clock)
        if market.sim_pace == "wall":
            for symbol, arrays in feed.history(market.history_bars).items():
                self.market.extend(symbol, arrays)
        return feed


def _first_existing(configured: str, default: Path) -> Path | None:
    """The configured path (which must exist: a typo is an error), else the default when it exists."""
    if configured:
        path = Path(configured)
        if not path.exists():
            raise DataError(f"{path}: no such file or folder")
        return path
    return default if default.exists() else None
