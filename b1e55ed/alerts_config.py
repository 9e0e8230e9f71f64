"""The ``alerts`` section: where alerts go, how often, and who may command trading from Telegram.

Secrets are not here: the bot token and the SMTP password come from ``keys`` (``B1E55ED_KEYS__TELEGRAM_BOT_TOKEN``,
``B1E55ED_KEYS__SMTP_PASSWORD``). A channel whose secret or address is absent is off; ``alerts.log`` is always on.
The whole section is left out of ``config_hash``: alerts change nothing the event log records.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from b1e55ed.secret import Secret

_Seconds = Annotated[float, msgspec.Meta(gt=0)]
_Text = Annotated[str, msgspec.Meta(min_length=1)]


class SmtpConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Email through ``smtplib``: off while ``host`` is empty. ``security``: starttls (port 587), tls (implicit,
    port 465) or none (a relay on loopback only)."""

    host: str = ""
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    sender: str = ""
    recipients: tuple[_Text, ...] = ()
    timeout_s: _Seconds = 20.0

    def __post_init__(self) -> None:
        if self.host and not self.sender:
            raise ValueError(f"`sender` is required to send email through {self.host}")
        if self.host and not self.recipients:
            raise ValueError(f"`recipients` must name at least one address to send email through {self.host}")
        if self.security == "none" and self.host not in ("", "localhost", "127.0.0.1", "::1"):
            raise ValueError(
                f"`security` none sends the password in clear: only for a relay on loopback, not {self.host}"
            )


class AlertsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True
    dedup_s: Annotated[float, msgspec.Meta(ge=0)] = 300.0
    rate_per_min: Annotated[int, msgspec.Meta(ge=1)] = 20
    equity_drift_pct: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    in_replay: bool = False
    backoff_initial_s: _Seconds = 1.0
    backoff_max_s: _Seconds = 300.0
    jitter: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.25
    timeout_s: _Seconds = 10.0
    telegram_url: _Text = "https://api.telegram.org"
    telegram_chat_id: int | None = None
    telegram_allowed_chats: tuple[int, ...] = ()
    telegram_poll_s: Annotated[int, msgspec.Meta(ge=0, le=50)] = 25
    webhook_url: Secret = Secret("")
    smtp: SmtpConfig = msgspec.field(default_factory=SmtpConfig)

    def __post_init__(self) -> None:
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError(
                f"`backoff_initial_s` must not exceed backoff_max_s ({self.backoff_initial_s} > {self.backoff_max_s})"
            )
        url = self.webhook_url.reveal()
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("`webhook_url` must start with http:// or https://")

    def allowed_chats(self) -> frozenset[int]:
        """The chats whose commands run: the listed ones, or else the alert chat alone."""
        if self.telegram_allowed_chats:
            return frozenset(self.telegram_allowed_chats)
        return frozenset() if self.telegram_chat_id is None else frozenset({self.telegram_chat_id})
