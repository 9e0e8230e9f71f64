"""The OpenAPI schemas of ``GET /karma``: the body ``karma/report.py`` writes (version 1)."""

from __future__ import annotations

from b1e55ed.api.schema import INTEGER, NUMBER, OPT_NUMBER, STRING, Schema, array, nullable, obj, ref

KARMA_SCORE = obj(
    {
        "count": INTEGER,
        "effective": NUMBER,
        "wins": NUMBER,
        "hit_rate": OPT_NUMBER,
        "wilson_low": NUMBER,
        "wilson_high": NUMBER,
        "mean_return": OPT_NUMBER,
        "brier": OPT_NUMBER,
        "log_loss": OPT_NUMBER,
        "ic": OPT_NUMBER,
    }
)
KARMA_SCHEMAS: dict[str, Schema] = {
    "KarmaScore": KARMA_SCORE,
    "KarmaSource": obj(
        {
            "name": STRING,
            "kind": {"enum": ["producer", "rule"]},
            "overall": ref("KarmaScore"),
            "by_conviction": {"type": "object", "additionalProperties": ref("KarmaScore")},
            "by_symbol": {"type": "object", "additionalProperties": ref("KarmaScore")},
            "reliability": array(
                obj({"low": NUMBER, "high": NUMBER, "predicted": OPT_NUMBER, "observed": OPT_NUMBER, "count": NUMBER})
            ),
            "calibration": nullable(array(NUMBER)),
        }
    ),
    "Karma": obj(
        {
            "version": INTEGER,
            "sources": array(ref("KarmaSource")),
            "strategies": array({"type": "object"}),
            "patterns": array(obj({"producers": array(STRING), "score": ref("KarmaScore")})),
        }
    ),
}
