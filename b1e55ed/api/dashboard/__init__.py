"""The dashboard at ``/``: Jinja2 pages, HTMX fragments refreshed over SSE, and its local static assets."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from b1e55ed.api.context import ApiContext
from b1e55ed.api.dashboard.views import STATIC_DIR, DashboardViews


def dashboard_routes(ctx: ApiContext) -> list[BaseRoute]:
    """``/``, ``/favicon.ico`` and ``/static`` (public), and the ``/ui/...`` fragments (behind the token)."""
    views = DashboardViews(ctx)
    return [
        Route("/", views.page, methods=["GET"]),
        Route("/favicon.ico", views.favicon, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        Route("/ui/sync", views.sync, methods=["GET"]),
        Route("/ui/decisions/{decision_id}", views.decision, methods=["GET"]),
        Route("/ui/{panel}", views.panel, methods=["GET"]),
    ]
