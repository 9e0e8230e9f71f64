"""Whose fault an error is, which decides what happens next.

    Exception
     ├── Fault             ours: a broken invariant (the hash chain, a log that does not follow its head).
     │                     A restart cannot cure it: the supervisor escalates at the first one, which halts trading.
     └── WorldError        the world's: bad input, or a request that was refused. Fix the input; never retried.
          └── Unavailable  the world's and transient: the network, a server or a venue did not answer usefully.
                           Retried with backoff; a producer or a venue that stays so is marked degraded.

The concrete errors keep their own names in their own modules (``ChainBroken``, ``ConfigError``, ``DataError``,
``EndpointUnavailable``, ``VenueUnavailable``, …) and subclass one of these, so a caller can catch by fault.
"""

from __future__ import annotations


class Fault(Exception):
    """Ours: a broken invariant. Fatal to the actor that meets it: trading halts at once."""


class WorldError(Exception):
    """The world's: bad input or a refused request; the message names the field, the row or the endpoint."""


class Unavailable(WorldError):
    """The world's and transient: a retry may succeed."""


class ScanRefused(WorldError):
    """A manual scan cannot run now (a driven replay ticks per candle; no brain): the message says why. Raised by
    the brain, answered by the API: it lives here so that neither imports the other."""


FATAL: tuple[type[Exception], ...] = (Fault,)
"""What the runtime's supervisor escalates at the first occurrence."""
