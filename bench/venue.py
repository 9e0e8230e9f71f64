"""Live venue benchmark: signing, an order's round trip to the mock exchange, and decision-to-order in the runtime.

1. ``signing/per_order``: build and sign one order action (the SDK's wire helpers and ``sign_l1_action``, coincurve
   underneath), ms. Baseline: a bare coincurve recoverable signature of a 32-byte digest.
2. ``round_trip/order``: ``HyperliquidVenue.submit`` of one IOC entry to the mock exchange on loopback (in this
   process), answer parsed, ms. The mock verifies each signature with the SDK's recovery function, which is part of
   the figure (Hyperliquid does it too). Baseline: a bare httpx POST (``allMids``) to the same server.
3. ``decision_to_order/runtime``: ``python -m b1e55ed run --live`` on the seeded simulation against the mock in its
   own process; from the log, the ``Decision`` event's ts to its entry's ``submitted`` update, ms (the log's clock
   has ms resolution). Baseline: the round trip of figure 2.

One JSON object per line on stdout (notes on stderr); each figure is the median of 3 runs. ``[--quick]``
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import coincurve
import httpx
import trio
from eth_account import Account

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fakes, when run as `python bench/venue.py`

from common import figure, load_average, note

from b1e55ed.hyperliquid.config import HyperliquidConfig
from b1e55ed.hyperliquid.signing import Signer, order_action, order_wire
from b1e55ed.ids import decision_id
from b1e55ed.messages import Decision, OrderUpdated
from b1e55ed.venues.base import VenueOrder
from b1e55ed.venues.hyperliquid import HyperliquidVenue
from tests.fakes.hl_exchange import MockExchange
from tests.fakes.hl_exchange_process import Churn, live_env, log_events, mock_exchange_process, start_live
from tests.fakes.hl_exchange_server import serve

BENCH = "venue"


def signing(orders: int) -> tuple[float, float]:
    account = Account.create()
    signer = Signer(account.key.hex(), is_mainnet=False)
    secret = coincurve.PrivateKey(bytes(account.key))
    digests = [bytes([i % 256]) * 32 for i in range(orders)]
    ours, bare = [], []
    for index, digest in enumerate(digests):
        started = time.perf_counter()
        wire = order_wire(
            asset=0, is_buy=True, size=0.01, limit_price=52_500.0, reduce_only=False, cloid=f"0x{index:032x}"
        )
        signer.payload(order_action([wire]))
        ours.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        secret.sign_recoverable(digest, hasher=None)
        bare.append((time.perf_counter() - started) * 1000)
    return statistics.median(ours), statistics.median(bare)


async def round_trip(orders: int) -> tuple[float, float]:
    account = Account.create()
    exchange = MockExchange(wallet=account.address)
    async with trio.open_nursery() as nursery, httpx.AsyncClient() as http:
        port = await nursery.start(partial(serve, exchange))
        url = f"http://127.0.0.1:{port}"
        config = HyperliquidConfig(url=url, is_mainnet=False, weight_per_min=1_000_000)
        venue = HyperliquidVenue.from_config(config, account.key.hex(), http=http)
        await venue.positions()  # connection and meta warm
        ours, bare = [], []
        for index in range(orders):
            order = VenueOrder(
                cloid=decision_id("bench", "BTC", "long", index),
                symbol="BTC",
                side="buy" if index % 2 == 0 else "sell",
                size=0.01,
                role="entry",
                reference_price=50_000.0,
            )
            started = time.perf_counter()
            ack = await venue.submit(order)
            ours.append((time.perf_counter() - started) * 1000)
            assert ack.accepted, ack.reason
            started = time.perf_counter()
            (await http.post(url + "/info", json={"type": "allMids"})).raise_for_status()
            bare.append((time.perf_counter() - started) * 1000)
        nursery.cancel_scope.cancel()
    return statistics.median(ours), statistics.median(bare)


def decision_to_order(seconds: float) -> list[float]:
    account = Account.create()
    with (
        tempfile.TemporaryDirectory(prefix="b1e55ed-bench-") as directory,
        mock_exchange_process(account.address) as mock,
    ):
        folder = Path(directory)
        db = folder / "brain.db"
        live = start_live(live_env(account.key.hex(), mock.url, db), folder, folder / "live.err")
        churn = Churn(mock, random.Random(7))  # stops and targets fire, positions close, new entries follow
        churn.start()
        time.sleep(seconds)
        churn.stopped.set()
        churn.join()
        live.send_signal(signal.SIGINT)
        live.wait(timeout=30)
        events = log_events(db)
    decided: dict[str, int] = {}
    for event in events:  # the first decision with an id is the one that made the order; later ones are repeats
        if isinstance(event, Decision) and event.taken:
            decided.setdefault(event.decision_id, event.ts)
    submitted = {
        e.cloid: e.ts
        for e in events
        if isinstance(e, OrderUpdated) and e.role == "entry" and e.status == "submitted" and e.cloid in decided
    }
    return [float(submitted[cloid] - decided[cloid]) for cloid in submitted]


def main() -> None:
    parser = argparse.ArgumentParser(description="Live venue benchmark: one JSON line per figure on stdout.")
    parser.add_argument("--quick", action="store_true", help="fewer orders and a shorter live run")
    quick = parser.parse_args().quick
    runs = 3
    signs = [signing(200 if quick else 1000) for _ in range(runs)]
    figure(
        BENCH,
        "signing/per_order",
        "ms",
        [s[0] for s in signs],
        [s[1] for s in signs],
        "bare coincurve sign_recoverable of a 32-byte digest",
        load_avg_1m=load_average(),
    )
    trips = [trio.run(round_trip, 50 if quick else 200) for _ in range(runs)]
    figure(
        BENCH,
        "round_trip/order",
        "ms",
        [t[0] for t in trips],
        [t[1] for t in trips],
        "bare httpx POST /info allMids to the same loopback server",
        load_avg_1m=load_average(),
    )
    latencies: list[float] = []
    medians = []
    for _ in range(runs):
        sample = decision_to_order(6.0 if quick else 12.0)
        note(f"decision to order: {len(sample)} entries, median {statistics.median(sample) if sample else 'n/a'} ms")
        if sample:
            medians.append(statistics.median(sample))
            latencies += sample
    if medians:
        figure(
            BENCH,
            "decision_to_order/runtime",
            "ms",
            medians,
            [t[0] for t in trips],
            "round_trip/order (the venue's own share)",
            entries=len(latencies),
            load_avg_1m=load_average(),
        )


if __name__ == "__main__":
    main()
