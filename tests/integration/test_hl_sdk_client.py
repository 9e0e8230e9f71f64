"""The mock exchange speaks Hyperliquid's wire format to a client we did not write: the official SDK's ``Info`` and
``Exchange`` (sync, over ``requests``) against the mock in its own process, on a loopback socket.

The SDK signs with its own code; the mock verifies every signature and deduplicates by cloid."""

from __future__ import annotations

import pytest
from eth_account import Account
from hyperliquid.exchange import Exchange
from hyperliquid.info import Info
from hyperliquid.utils.types import Cloid

from tests.fakes.hl_exchange_process import mock_exchange_process

pytestmark = pytest.mark.slow


def test_the_official_client_places_sees_is_refused_a_duplicate_and_cancels() -> None:
    account = Account.create()
    with mock_exchange_process(account.address) as mock:
        mock.control({"mid": {"BTC": 60_000.0}})
        info = Info(mock.url, skip_ws=True)  # asks for spotMeta and meta at start
        exchange = Exchange(account, mock.url)
        cloid = Cloid.from_str("0x" + "ab" * 16)
        placed = exchange.order("BTC", True, 0.01, 50_000.0, {"limit": {"tif": "Gtc"}}, cloid=cloid)
        assert placed["status"] == "ok", placed
        assert "resting" in placed["response"]["data"]["statuses"][0]

        resting = info.open_orders(account.address)
        assert [(o["coin"], o["side"], o["cloid"]) for o in resting] == [("BTC", "B", cloid.to_raw())]

        again = exchange.order("BTC", True, 0.01, 50_000.0, {"limit": {"tif": "Gtc"}}, cloid=cloid)
        assert "error" in again["response"]["data"]["statuses"][0]
        assert len(info.open_orders(account.address)) == 1

        cancelled = exchange.cancel_by_cloid("BTC", cloid)
        assert cancelled["response"]["data"]["statuses"] == ["success"]
        assert info.open_orders(account.address) == []
        assert mock.control()["refusals"] == []  # every signature the SDK made verified
