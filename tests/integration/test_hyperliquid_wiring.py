"""Live, the feed, the plug-ins and the venue share one HTTP client, one info client and one request-weight budget,
against the loopback mock exchange; the runtime closes the client when it ends."""

from __future__ import annotations

from pathlib import Path

import trio
from eth_account import Account

from actors.pipeline import TradingPipeline
from b1e55ed.clock import WallClock
from b1e55ed.config import load_config
from b1e55ed.market.hyperliquid import HyperliquidFeed
from b1e55ed.runtime import Runtime
from b1e55ed.venues.hyperliquid import HyperliquidVenue
from tests.fakes.hl_exchange import MockExchange
from tests.fakes.hl_exchange_server import serve


async def test_live_wiring_shares_one_client_one_info_client_and_one_budget(tmp_path: Path) -> None:
    account = Account.create()
    exchange = MockExchange(wallet=account.address)
    async with trio.open_nursery() as nursery:
        url = f"http://127.0.0.1:{await nursery.start(serve, exchange)}"
        environ = {
            "B1E55ED_MODE": "live",
            "B1E55ED_MARKET__SOURCE": "hyperliquid",
            "B1E55ED_MARKET__HYPERLIQUID_URL": url,
            "B1E55ED_HYPERLIQUID__URL": url,
            "B1E55ED_HYPERLIQUID__IS_MAINNET": "false",
            "B1E55ED_HYPERLIQUID__WEIGHT_PER_MIN": "60",
            "B1E55ED_KEYS__HYPERLIQUID_PRIVATE_KEY": account.key.hex(),
        }
        config = load_config(environ=environ, env_file=None)
        runtime = Runtime(config, db_path=tmp_path / "brain.db", clock=WallClock())
        async with runtime.resources:
            pipeline = TradingPipeline(runtime)
            info, http = pipeline.info, pipeline.http
            assert info is not None
            assert http is not None
            venue = pipeline.venue()
            assert isinstance(venue, HyperliquidVenue)
            async with pipeline.open_feed() as feed:
                assert isinstance(feed, HyperliquidFeed)
                assert feed.info is info
            assert pipeline.services.info is info
            assert venue.info is info

            # What the venue spends, the feed's budget sees: 60 a minute refills one a second.
            await venue.order_state("0x" + "00" * 16)
            assert info.budget.available < 59
            assert exchange.requests["/info orderStatus"] == 1
        assert http.is_closed
        nursery.cancel_scope.cancel()
