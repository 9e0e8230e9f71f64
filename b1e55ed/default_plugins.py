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
_SIZING = {"base_size": 0.05, "reference_conviction": 7, "max_size": 0.15, "kelly_fraction": 0}
_EXITS = {"stop_pct": 3, "target_pct": 10}
DEFAULT_STRATEGIES = (
    PluginSpec(
        name="confluence",
        module="actors.strategies.confluence",
        class_name="ConfluenceStrategy",
        params={"min_agreeing": 2, **_SIZING, **_EXITS},
    ),
    PluginSpec(
        name="momentum",
        module="actors.strategies.momentum",
        class_name="MomentumStrategy",
        params={
            "producer": "momentum",
            "volume_bars": 24,
            "baseline_bars": 168,
            "min_volume_ratio": 1.25,
            **_SIZING,
            **_EXITS,
        },
    ),
    PluginSpec(
        name="ma_crossover",
        module="actors.strategies.ma_crossover",
        class_name="MACrossoverStrategy",
        params={
            "fast": 20,
            "slow": 50,
            "ma": "sma",
            "trend": 200,
            "directions": ["long", "short"],
            "conviction": 6,
            **_SIZING,
            **_EXITS,
        },
    ),
    PluginSpec(
        name="combined",
        module="actors.strategies.combined",
        class_name="CombinedStrategy",
        params={
            "producer": "momentum",
            "fast": 20,
            "slow": 50,
            "ma": "sma",
            "within_bars": 24,
            "trend": 0,
            **_SIZING,
            **_EXITS,
        },
    ),
    PluginSpec(
        name="rsi_oversold",
        module="actors.strategies.rsi_oversold",
        class_name="RSIOversoldStrategy",
        params={
            "rsi_period": 14,
            "oversold": 30,
            "swing_bars": 5,
            "swing_count": 3,
            "support_bars": 200,
            "near_pct": 2,
            **_SIZING,
            **_EXITS,
        },
    ),
)
