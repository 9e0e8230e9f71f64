"""``GET /openapi.json``: the schema of every endpoint, written by hand to match the responses exactly.

schemathesis checks the running server against it (tests/integration/test_schemathesis.py).
"""

from __future__ import annotations

from typing import get_args

from b1e55ed.api.errors import MAX_INT
from b1e55ed.api.fanout import EVENT_TYPES
from b1e55ed.api.karma_schema import KARMA_SCHEMAS
from b1e55ed.api.schema import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    OPT_INTEGER,
    OPT_NUMBER,
    OPT_STRING,
    STRING,
    Schema,
    array,
    nullable,
    obj,
    ref,
)
from b1e55ed.api.sse import TYPES_PATTERN
from b1e55ed.messages import SignalValue
from b1e55ed.tradingstate import STATES

SCHEMAS: dict[str, Schema] = {
    **KARMA_SCHEMAS,
    "Error": {
        "type": "object",
        "properties": {"error": STRING, "parameter": STRING},
        "required": ["error"],
    },
    "Signal": obj(
        {
            "id": INTEGER,
            "symbol": STRING,
            "signal": {"enum": list(get_args(SignalValue))},
            "conviction": INTEGER,
            "producer": STRING,
            "rationale": STRING,
            "metadata": {"type": "object"},
            "timestamp": INTEGER,
            "hash": STRING,
            "cycle": OPT_INTEGER,
        }
    ),
    "MidPrices": obj({"ts": INTEGER, "source": STRING, "prices": {"type": "object", "additionalProperties": NUMBER}}),
    "Position": obj(
        {
            "position_id": STRING,
            "symbol": STRING,
            "side": {"enum": ["long", "short"]},
            "size": NUMBER,
            "entry_price": NUMBER,
            "mark": OPT_NUMBER,
            "pnl": OPT_NUMBER,
            "stop": NUMBER,
            "target": NUMBER,
            "opened_ts": INTEGER,
        }
    ),
    "Trade": obj(
        {
            "id": INTEGER,
            "symbol": STRING,
            "direction": {"enum": ["long", "short"]},
            "size": NUMBER,
            "entry": NUMBER,
            "stop": NUMBER,
            "target": NUMBER,
            "strategy": STRING,
            "rationale": STRING,
            "conviction": INTEGER,
            "timestamp": INTEGER,
            "hash": STRING,
            "cycle": OPT_INTEGER,
        }
    ),
    "Order": obj(
        {
            "id": INTEGER,
            "cloid": STRING,
            "trade_id": OPT_INTEGER,
            "role": STRING,
            "status": STRING,
            "symbol": STRING,
            "side": STRING,
            "size": NUMBER,
            "filled_price": OPT_NUMBER,
            "filled_size": OPT_NUMBER,
            "exchange": STRING,
            "exchange_order_id": OPT_STRING,
            "reason": OPT_STRING,
            "timestamp": INTEGER,
            "last_seq": INTEGER,
        }
    ),
    "Strategy": obj(
        {
            "name": STRING,
            "trades": INTEGER,
            "win_rate": OPT_NUMBER,
            "pnl": NUMBER,
            "sharpe": OPT_NUMBER,
            "max_drawdown": NUMBER,
        }
    ),
    "DecisionSummary": obj(
        {
            "seq": INTEGER,
            "decision_id": STRING,
            "ts": INTEGER,
            "cycle": INTEGER,
            "strategy": STRING,
            "symbol": STRING,
            "taken": BOOLEAN,
            "direction": OPT_STRING,
            "reason": STRING,
        }
    ),
    "Decision": obj(
        {
            "seq": INTEGER,
            "decision_id": STRING,
            "ts": INTEGER,
            "cycle": INTEGER,
            "as_of": INTEGER,
            "strategy": STRING,
            "symbol": STRING,
            "taken": BOOLEAN,
            "direction": OPT_STRING,
            "reason": STRING,
            "producers": array(
                obj(
                    {
                        "producer": STRING,
                        "signal": STRING,
                        "conviction": INTEGER,
                        "calibrated": OPT_NUMBER,
                        "rationale": OPT_STRING,
                    }
                )
            ),
            "context": {"type": "object", "additionalProperties": NUMBER},
            "producer_status": {"type": "object", "additionalProperties": STRING},
            "sizing": {"type": "object", "additionalProperties": NUMBER},
            "trade": {"type": ["object", "null"]},
            "checks": array(obj({"name": STRING, "passed": BOOLEAN, "detail": STRING})),
            "verdict": nullable(obj({"approved": BOOLEAN, "reason": STRING, "seq": INTEGER})),
            "trade_seq": OPT_INTEGER,
            "order": nullable(ref("Order")),
        }
    ),
    "LastCycle": obj(
        {
            "cycle": INTEGER,
            "as_of": INTEGER,
            "settled_ts": INTEGER,
            "equity": NUMBER,
            "cash": NUMBER,
            "exposure": NUMBER,
            "open_positions": INTEGER,
            "seq": INTEGER,
        }
    ),
    "Health": obj(
        {
            "status": {"enum": ["healthy", "degraded"]},
            "components": obj(
                {
                    "database": STRING,
                    "api": STRING,
                    "producers": {"type": "object", "additionalProperties": STRING},
                    "last_cycle": OPT_STRING,
                }
            ),
            "producers": {"type": "object", "additionalProperties": STRING},
            "actors": {
                "type": "object",
                "additionalProperties": obj(
                    {
                        "state": STRING,
                        "restarts": INTEGER,
                        "last_error": OPT_STRING,
                        "since_ms": INTEGER,
                        "detail": STRING,
                    }
                ),
            },
            "last_cycle": nullable(ref("LastCycle")),
            "next_cycle": OPT_INTEGER,
            "killswitch": {"enum": list(STATES)},
            "now": INTEGER,
        }
    ),
    "StoredEvent": obj(
        {
            "seq": INTEGER,
            "ts": INTEGER,
            "kind": STRING,
            "payload": {"type": "string", "contentEncoding": "base64", "description": "the stored bytes"},
            "prev_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        }
    ),
    "ScanResult": obj(
        {
            "cycle": INTEGER,
            "settled": BOOLEAN,
            "signals": INTEGER,
            "decisions": array(
                obj({"decision_id": STRING, "strategy": STRING, "symbol": STRING, "taken": BOOLEAN, "reason": STRING})
            ),
            "trades": INTEGER,
            "portfolio": nullable(ref("LastCycle")),
        }
    ),
    "KillSwitchState": obj({"state": {"enum": list(STATES)}, "previous": {"enum": list(STATES)}, "changed": BOOLEAN}),
}


def _json(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> Schema:
    return _json(ref("Error"), description)


COMMON_ERRORS = {
    "400": _error("a parameter is invalid: `parameter` names it"),
    "401": _error("the API token is missing or wrong"),
    "403": _error("address not allowed, or no token configured for a mutating route"),
    "429": {
        **_error("rate limit exceeded"),
        "headers": {"Retry-After": {"schema": INTEGER, "description": "seconds to wait"}},
    },
}

LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}


def _get(summary: str, ok: Schema, parameters: list[Schema] | None = None, **extra: Schema) -> Schema:
    return {
        "get": {
            "summary": summary,
            "parameters": parameters or [],
            "responses": {"200": ok, **COMMON_ERRORS, **extra},
        }
    }


def _post(summary: str, ok: Schema, body: Schema | None = None, **extra: Schema) -> Schema:
    operation: Schema = {"summary": summary, "responses": {"200": ok, **COMMON_ERRORS, **extra}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        operation["responses"]["413"] = _error("the body is too large")
    return {"post": operation}


def _list(key: str, item: str) -> Schema:
    return _json(obj({key: array(ref(item))}))


def openapi_schema(*, secured: bool) -> Schema:
    """The whole document; ``secured`` adds the bearer scheme (every route but ``/health``)."""
    paths: dict[str, Schema] = {
        "/health": _get("Components, producers, the last cycle and the trading state.", _json(ref("Health"))),
        "/signals": _get(
            "Recent signals, newest first.",
            _json(obj({"signals": array(ref("Signal")), "count": INTEGER})),
            [
                {"name": "symbol", "in": "query", "schema": {"type": "string", "maxLength": 64}},
                {"name": "producer", "in": "query", "schema": {"type": "string", "maxLength": 64}},
                {
                    "name": "since",
                    "in": "query",
                    "description": "Unix seconds: signals at or after it",
                    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_INT},
                },
                LIMIT,
            ],
        ),
        "/positions": _get("Open positions with mark and unrealised P&L.", _list("positions", "Position")),
        "/trades": _get("Sized trades the risk gate approved, newest first.", _list("trades", "Trade"), [LIMIT]),
        "/orders": _get("Orders in their latest state, newest first.", _list("orders", "Order"), [LIMIT]),
        "/strategies": _get("Each strategy with its stats.", _list("strategies", "Strategy")),
        "/karma": _get(
            "Karma's scorecards per producer and strategy rule, with reliability bins, and the top patterns.",
            _json(ref("Karma")),
        ),
        "/decisions": _get("Recent decisions, taken or not.", _list("decisions", "DecisionSummary"), [LIMIT]),
        "/decisions/{decision_id}": _get(
            "Why, or why not: producers, context, sizing and each risk check.",
            _json(ref("Decision")),
            [
                {
                    "name": "decision_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                }
            ],
            **{"404": _error("no such decision")},
        ),
        "/events": _get(
            "The raw hash chain: payloads as stored (base64), hashes in hex.",
            _json(
                obj(
                    {
                        "events": array(ref("StoredEvent")),
                        "next_after": INTEGER,
                        "head": obj({"seq": INTEGER, "hash": STRING}),
                    }
                )
            ),
            [{"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": MAX_INT}}, LIMIT],
        ),
        "/metrics": _get(
            "Prometheus metrics.",
            {"description": "OK", "content": {"text/plain": {"schema": STRING}}},
        ),
        "/stream": _get(
            "Server-Sent Events: " + ", ".join(EVENT_TYPES) + " (the default), each a committed event whose `id` is "
            "its seq; and `price` when asked for in `types`: the live mid prices (a `MidPrices`), once per poll "
            "(every 5 s), with no `id`, never in the log.",
            {"description": "an endless event stream", "content": {"text/event-stream": {"schema": STRING}}},
            [
                {"name": "types", "in": "query", "schema": {"type": "string", "pattern": TYPES_PATTERN}},
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "schema": {"type": "string", "pattern": "^[0-9]{1,15}$"},
                },
            ],
            **{"503": _error("shutting down")},
        ),
        "/scan": _post(
            "Run one brain cycle now and return its result.",
            _json(ref("ScanResult")),
            **{"409": _error("no manual cycle now (a driven replay)"), "504": _error("the cycle did not settle")},
        ),
        "/killswitch": _post(
            "Set the trading state.",
            _json(ref("KillSwitchState")),
            obj({"state": {"enum": [*STATES, "halt", "reduce", "resume"]}}),
        ),
        "/auth/session": _post(
            "Exchange the token for the dashboard's HttpOnly session cookie.",
            _json(obj({"authenticated": BOOLEAN})),
            obj({"token": {"type": "string", "minLength": 1}}),
        ),
        "/openapi.json": _get("This document.", _json({"type": "object"})),
    }
    document: Schema = {
        "openapi": "3.1.0",
        "info": {"title": "b1e55ed", "version": "0.1.0"},
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
    if secured:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
        paths["/health"]["get"]["security"] = []
        paths["/auth/session"]["post"]["security"] = []
    return document
