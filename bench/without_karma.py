"""The replay benchmark's baseline for karma's cost: the trading pipeline with no karma stage and no rule books
(``B1E55ED_RUNTIME__PIPELINE=without_karma:WithoutKarma``, importable because ``bench/`` is the child's first
``sys.path`` entry). Never a product setting: karma's scoring always runs."""

from __future__ import annotations

from actors.pipeline import TradingPipeline


class WithoutKarma(TradingPipeline):
    scores_karma = False
