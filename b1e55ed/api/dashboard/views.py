"""The dashboard's HTTP handlers: the page, one HTML fragment per panel, and the decision drill-down."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.templating import Jinja2Templates

from b1e55ed.api.context import ApiContext
from b1e55ed.api.dashboard.format import FILTERS
from b1e55ed.api.dashboard.panels import PANELS, SYNC_PANELS, SYNC_TYPES, load_panels, producer_names
from b1e55ed.api.errors import ApiError
from b1e55ed.api.fanout import STREAM_TYPES
from b1e55ed.api.security import SESSION_COOKIE, session_value
from b1e55ed.config import Secret
from b1e55ed.messages import CycleStarted

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
FAVICON = STATIC_DIR / "favicon.svg"
STREAM_URL = "/stream?types=" + ",".join(STREAM_TYPES)  # every event, and the live mid prices


def build_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return Jinja2Templates(env=env)


def session_check(token: Secret) -> Callable[[Request], bool]:
    """Whether a request may see data: always without a token; else a matching bearer header or session cookie.

    ``/`` itself is public, so the page asks this to choose between the desk and the token prompt; the guard in
    front of ``/ui/...`` enforces the same rule.
    """
    expected = session_value(token).encode() if token else b""

    def authorized(request: Request) -> bool:
        if not token:
            return True
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.matches(credential.strip()):
            return True
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), expected)

    return authorized


class DashboardViews:
    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx
        self._authorized = session_check(ctx.config.api.auth_token)
        self._templates = build_templates()

    def _base(self) -> dict[str, Any]:
        config = self._ctx.config
        return {
            "mode": config.mode,
            "market": config.market.source,
            "timeframe": config.timeframe,
            "symbols": list(self._ctx.symbols),
            "producers": producer_names(self._ctx),
            "now_ms": self._ctx.clock.now_ms(),
        }

    async def page(self, request: Request) -> Response:
        context = self._base()
        context["locked"] = not self._authorized(request)
        context["stream_url"] = STREAM_URL
        context["sync_types"] = SYNC_TYPES
        context["source"] = None
        if not context["locked"]:
            context.update(await load_panels(self._ctx, {}, PANELS))
            context["source"] = await self._market_source()
        return self._templates.TemplateResponse(request, "index.html", context)

    async def _market_source(self) -> str | None:
        """Where the last cycle's prices came from (``auto`` resolves at start): simulated data is labelled."""
        record = await self._ctx.store.last_of_kind("cycle")
        event = record.event() if record is not None else None
        return event.source if isinstance(event, CycleStarted) else None

    async def sync(self, request: Request) -> Response:
        """Every data panel at once, as out-of-band swaps (one query pass and one swap per burst of events)."""
        data = await load_panels(self._ctx, request.query_params, SYNC_PANELS)
        context = {**self._base(), **data, "sync_panels": SYNC_PANELS}
        return self._templates.TemplateResponse(request, "partials/sync.html", context)

    async def panel(self, request: Request) -> Response:
        name = request.path_params["panel"]
        panel = PANELS.get(name)
        if panel is None:
            raise ApiError(404, f"no dashboard panel named {name!r}; panels: {', '.join(PANELS)}", "panel")
        data = await panel.load(self._ctx, request.query_params)
        return self._templates.TemplateResponse(request, panel.template, {**self._base(), **data})

    async def decision(self, request: Request) -> Response:
        decision_id = request.path_params["decision_id"]
        decision = await self._ctx.read.decision(decision_id)
        if decision is None:
            html = self._templates.get_template("partials/decision_missing.html").render(decision_id=decision_id)
            return HTMLResponse(html, status_code=404)
        return self._templates.TemplateResponse(request, "partials/decision.html", {"decision": decision})

    async def favicon(self, request: Request) -> Response:
        return FileResponse(FAVICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})
