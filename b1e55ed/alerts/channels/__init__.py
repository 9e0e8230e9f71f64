"""Where alerts go. Each channel makes one attempt per ``send``; ``b1e55ed.alerts.delivery`` retries.

``DeliveryFailed`` (a ``WorldError``): the channel did not take the alert. ``retry_after`` is set when it said when
to come back (Telegram's 429); ``permanent`` when a retry alone cannot cure it (bad credentials, a chat that does
not exist): it is retried all the same, at the slowest pace, so that fixing the setting delivers what waited.
"""

from __future__ import annotations

from typing import Protocol

from b1e55ed.alerts.triggers import Notice
from b1e55ed.errors import WorldError


class DeliveryFailed(WorldError):
    def __init__(self, detail: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.permanent = permanent


class Channel(Protocol):
    name: str
    limited: bool
    """Whether ``alerts.rate_per_min`` applies: to a person's phone or inbox, not to a file."""

    async def send(self, notice: Notice) -> None:
        """Deliver ``notice`` once, or raise ``DeliveryFailed``."""
        ...
