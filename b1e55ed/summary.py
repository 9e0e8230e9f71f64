"""What a finished run did, read from its event log: trades, win rate, P&L, max drawdown, the chain head."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import msgspec

from b1e55ed.eventlog import codec
from b1e55ed.eventlog.connect import LogKey, connect
from b1e55ed.messages import CycleSettled


class RunSummary(msgspec.Struct, frozen=True):
    trades: int
    wins: int
    pnl: float
    max_drawdown_pct: float
    final_equity: float | None
    cycles: int
    events: int
    head: str
    stopped: int
    targets: int

    @property
    def win_rate(self) -> float:
        return self.wins / self.trades if self.trades else 0.0

    def render(self) -> str:
        equity = f"{self.final_equity:,.2f}" if self.final_equity is not None else "n/a"
        return "\n".join(
            [
                f"trades        {self.trades} ({self.stopped} stopped, {self.targets} at target)",
                f"win rate      {self.win_rate:.1%}",
                f"P&L           {self.pnl:+,.2f}",
                f"max drawdown  {self.max_drawdown_pct:.2f}%",
                f"final equity  {equity}",
                f"cycles        {self.cycles}",
                f"chain head    seq {self.events} {self.head}",
            ]
        )


def summarize(db: Path, key: LogKey | None = None) -> RunSummary:
    with closing(connect(db, key)) as conn:
        closed = conn.execute(
            "SELECT status, pnl FROM position_events WHERE status IN ('closed', 'stopped') ORDER BY id"
        ).fetchall()
        peak, max_dd, equity, cycles = 0.0, 0.0, None, 0
        for (payload,) in conn.execute("SELECT payload FROM events WHERE kind = 'settled' ORDER BY seq"):
            settled = codec.decode(payload)
            assert isinstance(settled, CycleSettled)
            equity, cycles = settled.equity, settled.cycle
            peak = max(peak, equity)
            max_dd = max(max_dd, (1 - equity / peak) * 100 if peak > 0 else 0.0)
        head = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return RunSummary(
        trades=len(closed),
        wins=sum(1 for _, pnl in closed if pnl > 0),
        pnl=sum(pnl for _, pnl in closed),
        max_drawdown_pct=max_dd,
        final_equity=equity,
        cycles=cycles,
        events=head[0] if head else 0,
        head=head[1].hex() if head else "",
        stopped=sum(1 for status, _ in closed if status == "stopped"),
        targets=sum(1 for status, _ in closed if status == "closed"),
    )
