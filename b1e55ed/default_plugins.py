"""The producers and strategies a fresh config runs; ``config/b1e55ed.yaml`` lists the same, with comments."""

from __future__ import annotations

from b1e55ed.registry import PluginSpec

DEFAULT_PRODUCERS = (
    PluginSpec(
        name="rsi",
        module="actors.producers.rsi",
        class_name="RSIProducer",
        params={"period": 14, "oversold": 30, "overbought": 70},
    ),
    PluginSpec(
        name="momentum",
        module="actors.producers.momentum",
        class_name="MomentumProducer",
        params={"lookback_days": 20, "threshold_pct": 5},
    ),
    PluginSpec(
        name="funding",
        module="actors.producers.funding",
        class_name="FundingProducer",
        params={"lookback": 90, "z_threshold": 2.0},
    ),
    PluginSpec(
        name="social",
        module="actors.producers.social",
        class_name="SocialProducer",
        params={"subreddits": ["CryptoCurrency", "Bitcoin"], "z_threshold": 2.0},
    ),
    PluginSpec(
        name="whale",
        module="actors.producers.whale",
        class_name="WhaleProducer",
        params={"addresses": [], "threshold_usd": 500000},
    ),
)
DEFAULT_STRATEGIES = (
    PluginSpec(
        name="confluence",
        module="actors.strategies.confluence",
        class_name="ConfluenceStrategy",
        params={
            "min_agreeing": 2,
            "base_size": 0.05,
            "reference_conviction": 7,
            "max_size": 0.15,
            "stop_pct": 3,
            "target_pct": 10,
        },
    ),
)
