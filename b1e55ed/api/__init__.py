"""The HTTP API, the SSE stream and the dashboard: a Starlette app built by ``create_app`` from an ``ApiContext``."""
