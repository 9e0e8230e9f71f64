"""A generic webhook: each alert as one JSON POST to ``alerts.webhook_url`` (a secret: such URLs carry tokens)."""

from __future__ import annotations

import httpx
import msgspec

from b1e55ed.alerts.channels import DeliveryFailed
from b1e55ed.alerts.triggers import Notice
from b1e55ed.httperrors import EndpointError, EndpointUnavailable
from b1e55ed.jsonhttp import JsonClient, RetryPolicy
from b1e55ed.secret import Secret

_ANY = msgspec.json.Decoder(msgspec.Raw)


class WebhookChannel:
    name = "webhook"
    limited = True

    def __init__(self, http: httpx.AsyncClient, url: Secret, *, timeout_s: float) -> None:
        self._url = url
        self._client = JsonClient(http, RetryPolicy(max_retries=0, timeout_s=timeout_s), redact=self._redact)

    def _redact(self, text: str) -> str:
        """The URL masked, and its path and query too: a server may echo them without the host."""
        url = httpx.URL(self._url.reveal())
        for part in (str(url), url.raw_path.decode()):
            if len(part) > 1:
                text = text.replace(part, "***")
        return text

    async def send(self, notice: Notice) -> None:
        body = {
            "severity": notice.severity,
            "trigger": notice.trigger,
            "text": notice.text,
            "ts": notice.ts,
            "seq": notice.seq,
        }
        try:
            await self._client.send("POST", self._url.reveal(), "webhook", _ANY, body=body)
        except EndpointError as exc:
            if exc.status is None and exc.detail.startswith("answer is not JSON"):
                return  # a 2xx with an empty or plain-text body: the hook took it (JsonClient only decodes JSON)
            permanent = not isinstance(exc, EndpointUnavailable) and exc.status in (401, 403, 404)
            raise DeliveryFailed(str(exc), permanent=permanent) from None
