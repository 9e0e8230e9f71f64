"""Social producer: buzz on TikTok, X and Reddit, measured as mention velocity, given a direction by the price.

Sources. Reddit's public listings of ``subreddits`` need no key. TikTok and X come through Apify scraper actors
(``tiktok_actor``, ``twitter_actor``) with one token; without it they are "disabled: no APIFY token", which the
signal's ``metadata["sources"]`` says while Reddit carries on (and ``availability`` says when nothing is left).
A scraper run takes minutes, longer than a refresh may: a refresh starts a run every ``apify_interval_s`` and
collects it in a later refresh, failing the cycle when it ended badly or is still running after
``apify_max_wait_s``. Reddit is read every ``reddit_interval_s``, paging back to where the last read stopped.

Velocity. A post mentions a symbol when it holds the ticker as a word in capitals (``BTC``), the ticker after
``$`` or ``#`` in any case (``$btc``), or one of the symbol's ``aliases`` as a word in any case (``Bitcoin``): the
ticker in lower case alone is too often a word (Spanish *sol*). A post counts once per symbol however often it
says it. Mentions are counted per ``bucket_s`` bucket of post time. The bucket judged is the last one complete in
every source; the baseline is the up-to-``baseline_buckets`` buckets before it that every source covers
completely (a source's coverage restarts after a gap); at least ``min_baseline_buckets`` are needed.

Score. z = (mentions − mean) ÷ σ, σ = max(population std, √mean, 1): counts are Poisson-like, so a quiet, steady
baseline must not make a handful of posts a huge z. z is rounded to 2 decimals before it is judged.

Signal. Buzz is z ≥ ``z_threshold``. Buzz takes the direction of the price trend it agrees with, the return over
the last ``trend_bars`` bars: above +``trend_threshold_pct`` long, below −``trend_threshold_pct`` short. Conviction
is 5 at the threshold plus one per whole z unit past it, capped at 10 (threshold 2: z = 4.0 gives 7). No buzz, or
buzz on a flat price, is neutral with conviction 1.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import MappingProxyType
from typing import Annotated, Any, Final

import msgspec

from b1e55ed.market.bars import BarsView
from b1e55ed.messages import Direction, Signal
from b1e55ed.plugins import PluginSetup
from b1e55ed.sources import Post, SourceError
from b1e55ed.sources.apify import ApifyClient, ApifyRunFailed, ApifyRunTimeout, check_run, posts_from_items
from b1e55ed.sources.reddit import SUBREDDIT_NAME, RedditClient

NO_TOKEN: Final = "disabled: no APIFY token"
OFFLINE: Final = "disabled: offline (replayed or simulated market)"
DEFAULT_SUBREDDITS: Final = ("CryptoCurrency", "Bitcoin")
DEFAULT_ALIASES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {"BTC": ("bitcoin",), "ETH": ("ethereum",), "SOL": ("solana",)}
)
_OVERLAP_MS: Final = 300_000  # Reddit pages re-read before the last read, for posts that arrived late
_EPSILON: Final = 1e-9
_Seconds = Annotated[float, msgspec.Meta(gt=0)]
_Subreddit = Annotated[str, msgspec.Meta(pattern=f"^{SUBREDDIT_NAME.pattern}$")]


@dataclass
class _Feed:
    """One source's mention counts per symbol and bucket start, and since when they are complete."""

    interval_ms: int
    status: str
    covered_from: int | None = None
    fetched_at: int | None = None  # complete up to here (as-of of the read; an Apify run's start)
    seen: dict[str, int] = field(default_factory=dict)  # post id → time: each post counts once
    counts: dict[str, Counter[int]] = field(default_factory=dict)


@dataclass
class _Scrape:
    """An Apify actor's run, started in one refresh and collected in a later one."""

    platform: str
    actor: str
    run_id: str = ""
    started_at: int = 0
    last_start: int | None = None


class SocialProducer:
    class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
        bucket_s: _Seconds = 3600
        baseline_buckets: int = 24
        min_baseline_buckets: Annotated[int, msgspec.Meta(ge=1)] = 6
        z_threshold: float = 2.0
        trend_bars: int = 24
        trend_threshold_pct: float = 1.0
        subreddits: tuple[_Subreddit, ...] = DEFAULT_SUBREDDITS
        reddit_interval_s: _Seconds = 300
        reddit_max_pages: int = 5
        apify_interval_s: _Seconds = 3600
        apify_max_wait_s: _Seconds = 900
        tiktok_actor: str = "clockworks~tiktok-scraper"
        twitter_actor: str = "apidojo~tweet-scraper"
        tiktok_results: int = 100
        twitter_results: int = 500
        apify_max_items: int = 5000
        aliases: dict[str, tuple[str, ...]] = msgspec.field(default_factory=lambda: dict(DEFAULT_ALIASES))
        search_terms: dict[str, tuple[str, ...]] = msgspec.field(default_factory=dict)

        def __post_init__(self) -> None:
            if self.baseline_buckets < self.min_baseline_buckets:
                raise ValueError(
                    f"`baseline_buckets` ({self.baseline_buckets}) must be at least min_baseline_buckets"
                    f" ({self.min_baseline_buckets})"
                )

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self._services = services = setup.services
        params = setup.params_as(self.Params)
        self.bucket_ms = round(params.bucket_s * 1000)
        self.baseline_buckets, self.min_baseline = params.baseline_buckets, params.min_baseline_buckets
        self.z_threshold = params.z_threshold
        self.trend_bars, self.trend_threshold_pct = params.trend_bars, params.trend_threshold_pct
        self.subreddits = params.subreddits
        self.reddit_max_pages = params.reddit_max_pages
        self.apify_max_wait_ms = round(params.apify_max_wait_s * 1000)
        self.tiktok_results, self.twitter_results = params.tiktok_results, params.twitter_results
        self.apify_max_items = params.apify_max_items
        self.aliases = {symbol.upper(): list(texts) for symbol, texts in params.aliases.items()}
        self.search_terms = {symbol.upper(): list(texts) for symbol, texts in params.search_terms.items()}
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._feeds: dict[str, _Feed] = {}
        self._reddit: RedditClient | None = None
        self._apify: ApifyClient | None = None
        self._scrapes: list[_Scrape] = []
        if self.subreddits:
            self._feeds["reddit"] = _Feed(round(params.reddit_interval_s * 1000), "waiting")
            if services.http is not None:
                self._reddit = RedditClient(services.http)
        apify_interval_ms = round(params.apify_interval_s * 1000)
        for platform, actor in (("tiktok", params.tiktok_actor), ("twitter", params.twitter_actor)):
            if not actor:
                continue
            token = services.keys.apify_token
            self._feeds[platform] = _Feed(apify_interval_ms, "waiting" if token else NO_TOKEN)
            if token and services.http is not None:
                self._apify = self._apify or ApifyClient(services.http, token)
                self._scrapes.append(_Scrape(platform, actor))

    def availability(self) -> str | None:
        if self._services.offline:
            return OFFLINE
        if self._services.http is None:
            return "disabled: no HTTP client"
        if self._reddit is None and not self._scrapes:
            return NO_TOKEN if self._feeds else "disabled: no sources configured"
        return None

    async def refresh(self, symbols: Sequence[str], as_of: int) -> None:
        """Read what is due from each source; a failing source fails the cycle after the others were read."""
        for symbol in symbols:
            if symbol not in self._patterns:
                self._patterns[symbol] = mention_pattern(symbol, self.aliases.get(symbol, ()))
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        if self._reddit is not None:
            steps.append(("reddit", partial(self._read_reddit, as_of)))
        steps += [(scrape.platform, partial(self._step_scrape, scrape, symbols, as_of)) for scrape in self._scrapes]
        errors: list[SourceError] = []
        for source, step in steps:
            try:
                await step()
            except SourceError as exc:
                self._feeds[source].status = f"failed: {exc}"
                errors.append(exc)
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise SourceError("social sources", "; ".join(str(error) for error in errors)) from errors[0]

    async def _read_reddit(self, as_of: int) -> None:
        assert self._reddit is not None
        feed = self._feeds["reddit"]
        if feed.fetched_at is not None and as_of - feed.fetched_at < feed.interval_ms:
            return
        horizon = self._horizon(as_of)
        since = horizon if feed.fetched_at is None else max(horizon, feed.fetched_at - _OVERLAP_MS)
        posts: list[Post] = []
        covered = since
        for subreddit in self.subreddits:
            fetch = await self._reddit.new_since(subreddit, since, max_pages=self.reddit_max_pages)
            posts += fetch.posts
            covered = max(covered, fetch.covered_from_ms)
        self._ingest(feed, posts, covered, as_of)

    async def _step_scrape(self, scrape: _Scrape, symbols: Sequence[str], as_of: int) -> None:
        assert self._apify is not None
        feed = self._feeds[scrape.platform]
        if not scrape.run_id:
            if scrape.last_start is not None and as_of - scrape.last_start < feed.interval_ms:
                return
            run = await self._apify.start_run(scrape.actor, self._run_input(scrape.platform, symbols))
            scrape.run_id, scrape.started_at, scrape.last_start = run.id, as_of, as_of
            feed.status = f"waiting: run {run.id} {run.status}"
            return
        try:
            run = check_run(await self._apify.get_run(scrape.run_id))
        except ApifyRunFailed:
            scrape.run_id = ""
            raise
        if not run.finished:
            if as_of - scrape.started_at > self.apify_max_wait_ms:
                scrape.run_id = ""
                waited = (as_of - scrape.started_at) / 1000
                raise ApifyRunTimeout(
                    "GET /v2/actor-runs/{runId}", f"run {run.id} still {run.status} after {waited:g} s"
                )
            feed.status = f"waiting: run {run.id} {run.status}"
            return
        items = await self._apify.dataset_items(run.default_dataset_id, limit=self.apify_max_items)
        scrape.run_id = ""
        posts = posts_from_items(scrape.platform, items)
        self._ingest(feed, posts, min((p.ts_ms for p in posts), default=scrape.started_at), scrape.started_at)

    def _run_input(self, platform: str, symbols: Sequence[str]) -> dict[str, Any]:
        terms = sorted({t for s in symbols for t in self.search_terms.get(s) or self.aliases.get(s) or [s]})
        if platform == "tiktok":
            return {"searchQueries": terms, "resultsPerPage": self.tiktok_results}
        return {"searchTerms": terms, "sort": "Latest", "maxItems": self.twitter_results}

    def _ingest(self, feed: _Feed, posts: Sequence[Post], covered_from: int, fetched_at: int) -> None:
        horizon = self._horizon(fetched_at)
        for post in posts:
            if post.id in feed.seen or post.ts_ms < horizon:
                continue
            feed.seen[post.id] = post.ts_ms
            bucket = post.ts_ms - post.ts_ms % self.bucket_ms
            for symbol, pattern in self._patterns.items():
                if pattern.search(post.text):
                    feed.counts.setdefault(symbol, Counter())[bucket] += 1
        if feed.fetched_at is None or covered_from > feed.fetched_at:  # first read, or a gap: coverage restarts
            feed.covered_from = covered_from
        feed.fetched_at, feed.status = fetched_at, "ok"
        feed.seen = {key: ts for key, ts in feed.seen.items() if ts >= horizon}
        for counts in feed.counts.values():
            for bucket in [b for b in counts if b < horizon]:
                del counts[bucket]

    def _horizon(self, at: int) -> int:
        return at - at % self.bucket_ms - (self.baseline_buckets + 1) * self.bucket_ms

    def _window(self, as_of: int) -> tuple[dict[str, _Feed], int, list[int]] | None:
        """The sources to count, the bucket to judge and its baseline buckets; None while history is too short.

        Sources join oldest coverage first, each only if the baseline they all cover stays long enough: a source
        whose coverage just restarted sits out (``metadata["included"]`` names those counted) instead of
        shrinking everyone's baseline. A source not read for two of its intervals is stale and sits out too.
        """
        fresh = [
            (name, feed)
            for name, feed in self._feeds.items()
            if feed.fetched_at is not None
            and feed.covered_from is not None
            and as_of - feed.fetched_at <= 2 * feed.interval_ms + self.bucket_ms
        ]
        chosen: tuple[dict[str, _Feed], int, list[int]] | None = None
        for name, feed in sorted(fresh, key=lambda item: (item[1].covered_from or 0, item[0])):
            feeds = {**(chosen[0] if chosen else {}), name: feed}
            latest = min(f.fetched_at or 0 for f in feeds.values())
            covered = max(f.covered_from or 0 for f in feeds.values())
            current = latest - latest % self.bucket_ms - self.bucket_ms
            starts = [current - k * self.bucket_ms for k in range(1, self.baseline_buckets + 1)]
            baseline = [start for start in starts if start >= covered]
            if current >= covered and len(baseline) >= self.min_baseline:
                chosen = (feeds, current, baseline)
        return chosen

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None:
        window = self._window(as_of)
        if window is None or len(bars) <= self.trend_bars or symbol not in self._patterns:
            return None
        feeds, current, baseline = window
        live = list(feeds.values())
        mentions = sum(f.counts.get(symbol, Counter())[current] for f in live)
        history = [sum(f.counts.get(symbol, Counter())[start] for f in live) for start in baseline]
        mean = statistics.fmean(history)
        sigma = max(statistics.pstdev(history), math.sqrt(mean), 1.0)
        z = round((mentions - mean) / sigma, 2)
        close = bars.close
        trend = round((float(close[-1]) / float(close[-1 - self.trend_bars]) - 1.0) * 100.0, 4)
        metadata: dict[str, Any] = {
            "z": z,
            "mentions": mentions,
            "baseline_mean": round(mean, 4),
            "baseline_sigma": round(sigma, 4),
            "baseline_buckets": len(baseline),
            "bucket_start": current,
            "bucket_s": self.bucket_ms // 1000,
            "trend_pct": trend,
            "trend_bars": self.trend_bars,
            "by_source": {name: f.counts.get(symbol, Counter())[current] for name, f in self._feeds.items()},
            "sources": {name: f.status for name, f in self._feeds.items()},
            "included": sorted(feeds),
        }
        buzz = f"{symbol} {mentions} mentions/{self.bucket_ms // 60_000}min vs {mean:.1f}±{sigma:.1f} (z={z:.2f})"
        price = f"price {trend:+.1f}% over {self.trend_bars} bars"
        direction: Direction | None = None
        if z < self.z_threshold:
            rationale = f"{buzz}: no buzz"
        elif abs(trend) < self.trend_threshold_pct:
            rationale = f"{buzz}: buzz, but {price} gives no direction"
        else:
            direction = "long" if trend > 0 else "short"
            rationale = f"{buzz}: buzz with {price} ({'rising' if trend > 0 else 'falling'})"
        conviction = 1 if direction is None else min(10, 5 + math.floor(z - self.z_threshold + _EPSILON))
        return Signal(
            symbol=symbol,
            signal=direction or "neutral",
            conviction=conviction,
            rationale=rationale,
            producer=self.name,
            timestamp=as_of // 1000,
            metadata=metadata,
        )


def mention_pattern(symbol: str, aliases: Sequence[str]) -> re.Pattern[str]:
    """Ticker as a capitalised word or after ``$``/``#`` in any case; aliases as words in any case."""
    ticker = re.escape(symbol.upper())
    parts = [rf"(?<![\w$#]){ticker}(?!\w)", rf"(?<!\w)[$#](?i:{ticker})(?!\w)"]
    parts += [rf"(?<!\w)#?(?i:{re.escape(alias)})(?!\w)" for alias in aliases if alias]
    return re.compile("|".join(parts))
