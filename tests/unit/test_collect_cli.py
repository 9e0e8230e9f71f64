"""``python -m b1e55ed collect``: exit codes, the report on stdout, errors naming the flag or the endpoint,
and the progress bar only on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest

from b1e55ed import cli
from b1e55ed.cliparser import build_parser
from b1e55ed.collect.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run_collect
from b1e55ed.collect.layout import load_funding, load_ohlcv
from b1e55ed.config import Config
from b1e55ed.jsonhttp import RetryPolicy
from b1e55ed.messages import Bar
from tests.fakes.binance import make_rates
from tests.fakes.collect_sources import FakeSources
from tests.fakes.hyperliquid_info import Fault, make_bars

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
HOUR, DAY = 3_600_000, 86_400_000
FAST = RetryPolicy(max_retries=2, backoff_initial_s=0.001, backoff_max_s=0.001)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def sources() -> FakeSources:
    sources = FakeSources(now_ms=T0 + 1200 * HOUR + 1)
    for pair, base in (("BTCUSDT", 40_000.0), ("ETHUSDT", 2_000.0)):
        sources.binance.add_bars("spot", pair, "1h", make_bars(T0, 1201, HOUR, base=base))
        sources.binance.add_bars("spot", pair, "1d", make_bars(T0, 51, DAY, base=base))
        sources.binance.add_funding(pair, make_rates(T0, 150))
    sources.hyperliquid.add_funding("BTC", [(T0 + i * HOUR, 0.00001) for i in range(1200)])
    sources.hyperliquid.add_funding("ETH", [(T0 + i * HOUR, 0.00002) for i in range(1200)])
    return sources


def collect(sources: FakeSources, argv: list[str], stderr: io.StringIO | None = None) -> tuple[int, str, str]:
    args = build_parser().parse_args(["collect", *argv])
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    code = run_collect(args, Config(), transport=sources.transport(), clock=sources.clock, stdout=out, stderr=err,
                       policy=FAST)  # fmt: skip
    return code, out.getvalue(), err.getvalue()


def test_ohlcv_for_several_symbols_and_timeframes(sources: FakeSources, tmp_path: Path) -> None:
    argv = ["ohlcv", "--symbols", "btc", "ETH", "--timeframes", "1h", "1d", "--since", "2024-01-01"]
    code, out, err = collect(sources, [*argv, "--data-dir", str(tmp_path)])
    assert (code, err) == (EXIT_OK, "")
    lines = out.splitlines()
    assert lines[0] == "ohlcv/1h/BTCUSDT.parquet: +1,200 rows (1,200 held, 2024-01-01 → 2024-02-19 23:00), 2 requests"
    assert [line.split(":")[0] for line in lines] == [
        "ohlcv/1h/BTCUSDT.parquet",
        "ohlcv/1h/ETHUSDT.parquet",
        "ohlcv/1d/BTCUSDT.parquet",
        "ohlcv/1d/ETHUSDT.parquet",
    ]
    assert load_ohlcv(tmp_path, "ETH", "1d").height == 50
    # --incremental: one request per file, nothing added
    code, out, _ = collect(sources, ["ohlcv", "--incremental", "--symbols", "BTC", "--data-dir", str(tmp_path)])
    assert code == EXIT_OK
    assert out.startswith("ohlcv/1h/BTCUSDT.parquet: +0 rows (1,200 held")


def test_funding_from_both_venues(sources: FakeSources, tmp_path: Path) -> None:
    code, out, _ = collect(sources, ["funding", "--symbols", "BTC", "ETH", "--data-dir", str(tmp_path)])
    assert code == EXIT_OK
    assert len(out.splitlines()) == 4
    assert load_funding(tmp_path, "ETH", "hyperliquid").height == 1200
    assert load_funding(tmp_path, "BTC", "binance").height == 150


def test_rejected_rows_are_reported_in_the_output(sources: FakeSources, tmp_path: Path) -> None:
    sources.binance.add_bars("spot", "BTCUSDT", "1h", [Bar(T0 + 5 * HOUR, 10.0, 9.0, 11.0, 10.0, 1.0)])
    code, out, _ = collect(sources, ["ohlcv", "--symbols", "BTC", "--timeframes", "1h", "--data-dir", str(tmp_path)])
    assert code == EXIT_OK
    assert "+1,199 rows" in out
    assert "rejected 1: 1 high below low" in out
    assert f"e.g. ts {T0 + 5 * HOUR}: high below low" in out


def test_a_network_failure_exits_1_naming_the_endpoint_and_keeps_what_was_collected(
    sources: FakeSources, tmp_path: Path
) -> None:
    sources.binance.faults.fail_from(4, Fault.http(503))  # 1h BTC takes 2 requests, 1h ETH fails on its second
    code, out, err = collect(sources, ["ohlcv", "--symbols", "BTC", "ETH", "--data-dir", str(tmp_path)])
    assert code == EXIT_FAILED
    assert "b1e55ed: collect ohlcv failed: GET https://api.binance.com/api/v3/klines?symbol=ETHUSDT" in err
    assert "HTTP 503" in err
    assert "gave up after 2 retries" in err
    assert "the rows collected before that are kept; rerun to resume" in err
    assert out.splitlines()[1].startswith("ohlcv/1h/ETHUSDT.parquet: +1,000 rows")
    assert load_ohlcv(tmp_path, "BTC", "1h").height == 1200
    assert load_ohlcv(tmp_path, "ETH", "1h").height == 1000


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["ohlcv", "--symbols", "BTC", "BTC"], "--symbols BTC BTC: a symbol repeats"),
        (["ohlcv", "--symbols", "BTC-PERP"], "--symbols 'BTC-PERP'"),
        (["basis", "--since", "2024-02-30"], "--since '2024-02-30': expected a day as YYYY-MM-DD"),
        (["funding", "--since", "2030-01-01"], "--since 2030-01-01: that day has not ended yet"),
    ],
)
def test_bad_arguments_exit_2_naming_the_flag(sources: FakeSources, argv: list[str], flag: str, tmp_path: Path) -> None:
    code, out, err = collect(sources, [*argv, "--data-dir", str(tmp_path)])
    assert (code, out) == (EXIT_USAGE, "")
    assert flag in err
    assert sources.binance.count() == 0


def test_bad_choices_exit_2_through_main(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["collect", "ohlcv", "--timeframes", "2m"])
    assert exited.value.code == EXIT_USAGE
    assert "argument --timeframes: invalid choice: '2m'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["collect", "funding", "--venues", "ftx"])
    assert "argument --venues: invalid choice: 'ftx'" in capsys.readouterr().err


def test_the_progress_bar_is_drawn_on_a_terminal_only(sources: FakeSources, tmp_path: Path) -> None:
    terminal = Terminal()
    argv = ["ohlcv", "--symbols", "BTC", "--timeframes", "1h", "--since", "2024-01-01"]
    code, _, _ = collect(sources, [*argv, "--data-dir", str(tmp_path / "a")], stderr=terminal)
    assert code == EXIT_OK
    drawn = terminal.getvalue()
    assert drawn.startswith("\rBTCUSDT 1h [")
    assert "100%" in drawn
    assert drawn.endswith("1,200 rows\n")
    code, _, err = collect(sources, [*argv, "--data-dir", str(tmp_path / "b")])
    assert (code, err) == (EXIT_OK, "")


def test_ctrl_c_keeps_what_was_fetched_and_exits_1(sources: FakeSources, tmp_path: Path) -> None:
    async def interrupt_third(request: httpx.Request) -> httpx.Response:
        if sources.binance.count() == 2:
            raise KeyboardInterrupt
        return await sources.handle(request)

    args = build_parser().parse_args(["collect", "ohlcv", "--symbols", "BTC", "ETH", "--data-dir", str(tmp_path)])
    out, err = io.StringIO(), io.StringIO()
    code = run_collect(args, Config(), transport=httpx.MockTransport(interrupt_third), clock=sources.clock,
                       stdout=out, stderr=err, policy=FAST)  # fmt: skip
    assert code == EXIT_FAILED
    assert "b1e55ed: collect ohlcv interrupted" in err.getvalue()
    assert load_ohlcv(tmp_path, "BTC", "1h").height == 1200
