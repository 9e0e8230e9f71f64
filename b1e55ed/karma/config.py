"""Karma's settings: the virtual position every signal is scored by, and how calibration is estimated."""

from __future__ import annotations

from typing import Annotated

import msgspec

_Positive = Annotated[float, msgspec.Meta(gt=0)]


class KarmaConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``stop_pct`` and ``target_pct``: the triple barrier's stop and target, percent from the entry (the
    strategies' defaults). ``horizon_bars``: the time limit, in bars after the signal's. ``min_samples``: effective
    outcomes a producer or rule needs before its calibration is used. ``prior_strength``: how many effective
    outcomes the Beta prior (the source's base rate) weighs at each conviction. ``sizing``: whether calibration
    reaches the strategies' sizing; scoring always runs."""

    stop_pct: _Positive = 3.0
    target_pct: _Positive = 10.0
    horizon_bars: Annotated[int, msgspec.Meta(ge=1)] = 240
    min_samples: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    prior_strength: _Positive = 10.0
    sizing: bool = True
