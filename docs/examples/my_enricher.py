"""An enrichment plug-in: where the close sits in its recent range, added to every symbol's PCS context.

``range_position`` is 0 at the lowest low of the last ``bars`` bars and 1 at the highest high; ``range_pct`` is
that range as a percentage of the close. The enricher stores them as ``<name>.range_position`` and
``<name>.range_pct`` beside price, volume ratio, ATR% and realised volatility, in the snapshot every cycle logs
(so ``/decisions/{id}`` and the feature store show them) and in ``cycle.context`` that every strategy reads.

A value that is not a finite number, or an exception, costs only this plug-in's fields for that symbol and cycle
(the enricher logs why); the cycle goes on.

Registered in the config as::

    brain:
      enrichers:
        - name: range
          module: docs.examples.my_enricher
          class: RangeEnricher
          params: {bars: 24}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from b1e55ed.market.bars import BarsView
from b1e55ed.plugins import PluginSetup


class RangeEnricher:
    class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
        bars: Annotated[int, msgspec.Meta(ge=2)] = 24

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.params = setup.params_as(self.Params)

    def enrich(self, symbol: str, bars: BarsView, as_of: int) -> Mapping[str, float]:
        if len(bars) < self.params.bars:
            return {}  # too little history: no fields yet
        high = float(bars.high[-self.params.bars :].max())
        low = float(bars.low[-self.params.bars :].min())
        close = bars.last_close
        if high <= low:
            return {"range_pct": 0.0}
        return {
            "range_position": round((close - low) / (high - low), 6),
            "range_pct": round((high - low) / close * 100.0, 6),
        }
