"""Secrets from the system keyring when the environment leaves them unset, through keyring's own backend API
(a backend the test installs, holding what a person stored with ``keyring set b1e55ed NAME``)."""

from __future__ import annotations

from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from b1e55ed.config import load_config

PRIVATE_KEY = "0x" + "ab" * 32


class Vault(KeyringBackend):
    priority = 1

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.secrets = secrets
        self.asked: list[tuple[str, str]] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.asked.append((service, username))
        return self.secrets.get(username) if service == "b1e55ed" else None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[username] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop(username, None)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import os

    for name in [name for name in os.environ if name.startswith("B1E55ED_")]:
        monkeypatch.delenv(name)
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


def test_an_unset_secret_comes_from_the_keyring(clean_env: None) -> None:
    vault = Vault({"B1E55ED_KEYS__HYPERLIQUID_PRIVATE_KEY": PRIVATE_KEY})
    keyring.set_keyring(vault)
    config = load_config(env_file=None)
    assert config.keys.hyperliquid_private_key.reveal() == PRIVATE_KEY
    assert ("b1e55ed", "B1E55ED_API__AUTH_TOKEN") in vault.asked  # every secret setting is looked up
    assert PRIVATE_KEY not in repr(config)


def test_the_environment_wins_over_the_keyring(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    keyring.set_keyring(Vault({"B1E55ED_API__AUTH_TOKEN": "from-the-keyring"}))
    monkeypatch.setenv("B1E55ED_API__AUTH_TOKEN", "from-the-environment")
    assert load_config(env_file=None).api.auth_token.reveal() == "from-the-environment"


def test_no_keyring_on_the_machine_leaves_the_secret_unset(clean_env: None) -> None:
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    assert not load_config(env_file=None).keys.hyperliquid_private_key


def test_an_explicit_environment_never_reads_the_keyring(clean_env: None) -> None:
    vault = Vault({"B1E55ED_API__AUTH_TOKEN": "from-the-keyring"})
    keyring.set_keyring(vault)
    assert not load_config(environ={}, env_file=None).api.auth_token
    assert vault.asked == []
