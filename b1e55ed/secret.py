"""A string that never shows itself, for tokens, keys and passwords in the config."""

from __future__ import annotations

import hmac
from typing import final


@final
class Secret:
    """A string that never shows itself: repr, str and encoders see ``***``. ``reveal()`` returns it.

    An empty secret means "not set": it is falsy and matches nothing.
    """

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    def matches(self, candidate: str) -> bool:
        """Constant-time comparison; an unset secret matches nothing, so an empty token never authenticates."""
        return bool(self._value) and hmac.compare_digest(self._value.encode(), candidate.encode())

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        return Secret, (self._value,)
