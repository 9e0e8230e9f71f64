"""``run --live`` refuses to start, with an instruction, unless the key is in the environment and is_mainnet set."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from b1e55ed import cli

KEY_VARIABLE = "B1E55ED_KEYS__HYPERLIQUID_PRIVATE_KEY"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in (KEY_VARIABLE, "B1E55ED_HYPERLIQUID__IS_MAINNET", "B1E55ED_MODE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def config_file(folder: Path, text: str = "market:\n  source: sim\n") -> Path:
    path = folder / "b1e55ed.yaml"
    path.write_text(text)
    return path


def run_live(config: Path, folder: Path) -> int:
    return cli.main(["--config", str(config), "run", "--live", "--db", str(folder / "brain.db")])


def test_refuses_without_a_key(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_live(config_file(workdir, "hyperliquid:\n  is_mainnet: false\nmarket:\n  source: sim\n"), workdir) == 2
    assert KEY_VARIABLE in capsys.readouterr().err
    assert not (workdir / "brain.db").exists()


def test_refuses_with_is_mainnet_unset(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = Account.create().key.hex()
    monkeypatch.setenv(KEY_VARIABLE, key)
    assert run_live(config_file(workdir), workdir) == 2
    err = capsys.readouterr().err
    assert "hyperliquid.is_mainnet is unset" in err
    assert key.removeprefix("0x") not in err


def test_refuses_a_key_written_in_the_config_file(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = Account.create().key.hex()
    monkeypatch.setenv(KEY_VARIABLE, key)
    text = f"keys:\n  hyperliquid_private_key: '{key}'\nhyperliquid:\n  is_mainnet: false\nmarket:\n  source: sim\n"
    assert run_live(config_file(workdir, text), workdir) == 2
    err = capsys.readouterr().err
    assert "remove it from the file" in err
    assert key.removeprefix("0x") not in err


def test_refuses_a_key_that_is_not_a_key(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "not-a-key-at-all")
    monkeypatch.setenv("B1E55ED_HYPERLIQUID__IS_MAINNET", "false")
    assert run_live(config_file(workdir), workdir) == 2
    err = capsys.readouterr().err
    assert "not a valid secp256k1 key" in err
    assert "not-a-key-at-all" not in err


def test_live_with_auto_market_is_refused(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VARIABLE, Account.create().key.hex())
    monkeypatch.setenv("B1E55ED_HYPERLIQUID__IS_MAINNET", "false")
    assert run_live(config_file(workdir, "market:\n  source: auto\n"), workdir) == 2


def test_is_mainnet_must_agree_with_the_url(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(KEY_VARIABLE, Account.create().key.hex())
    monkeypatch.setenv("B1E55ED_HYPERLIQUID__IS_MAINNET", "false")  # the default url is mainnet's
    assert run_live(config_file(workdir), workdir) == 2
    assert "make them agree" in capsys.readouterr().err
