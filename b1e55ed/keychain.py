"""Secrets from the system keyring, for a secret the environment and ``.env`` leave unset (the ``keyring`` extra).

Each secret setting is looked up under the service ``b1e55ed`` by its variable's name, so it is stored once with
``keyring set b1e55ed B1E55ED_KEYS__HYPERLIQUID_PRIVATE_KEY``. The environment and ``.env`` win over the keyring,
and a secret written in the config file wins too. Without the ``keyring`` package, or with no usable keyring on
the machine, nothing is looked up and nothing fails: the secret stays unset, as it would be without this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import msgspec

from b1e55ed.envfile import ENV_PREFIX, Override, unwrap

logger = logging.getLogger(__name__)

SERVICE = "b1e55ed"


def keyring_overrides(
    schema: type[msgspec.Struct], secret: type, is_set: Callable[[tuple[str, ...]], bool]
) -> tuple[Override, ...]:
    """An override for every setting of type ``secret`` in ``schema`` that ``is_set`` says is unset and the
    keyring holds."""
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        return ()
    found: list[Override] = []
    for keys in settings_of_type(schema, secret):
        if is_set(keys):
            continue
        name = ENV_PREFIX + "__".join(key.upper() for key in keys)
        try:
            value = keyring.get_password(SERVICE, name)
        except KeyringError as exc:  # no keyring on this machine (a headless server, say): nothing to look up
            logger.debug("no system keyring to read %s from: %s", name, exc)
            return tuple(found)
        if value:
            found.append(Override(keys=keys, value=value, origin=f"the system keyring ({SERVICE} / {name})"))
    return tuple(found)


def settings_of_type(schema: type[msgspec.Struct], kind: type) -> Iterator[tuple[str, ...]]:
    """The key paths of every setting of type ``kind`` in ``schema``, sections included."""
    for field in msgspec.structs.fields(schema):
        declared = unwrap(field.type)
        if declared is kind:
            yield (field.encode_name,)
        elif isinstance(declared, type) and issubclass(declared, msgspec.Struct):
            yield from ((field.encode_name, *keys) for keys in settings_of_type(declared, kind))
