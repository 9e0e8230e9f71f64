"""A JSON response encoded by msgspec: several times faster than the stdlib, and NaN becomes null."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

ENCODER = msgspec.json.Encoder()


class Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return ENCODER.encode(content)
