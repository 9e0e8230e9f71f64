"""Which events page a person, and what they are told: what happened, the symbol, the numbers, the decision id."""

from __future__ import annotations

import pytest

from b1e55ed.alerts.triggers import Notice, Triggers
from b1e55ed.eventlog.chain import EMPTY_HEAD, extend
from b1e55ed.messages import (
    ActorEscalated,
    Alert,
    CycleStarted,
    EquitySynced,
    Event,
    Fill,
    KillSwitchChanged,
    PositionUpdated,
)
from tests import samples

DECISION = "0x" + "ab" * 16


def notices(*events: Event, drift_pct: float = 5.0) -> list[Notice]:
    triggers = Triggers(equity_drift_pct=drift_pct)
    return [notice for record in extend(EMPTY_HEAD, events) for notice in triggers.notices(record)]


def closed(status: str, exit_price: float, pnl: float) -> PositionUpdated:
    return samples.position(
        ts=5,
        position_id=DECISION,
        entry_price=42_000.0,
        size=0.0119,
        stop=40_740.0,
        target=46_200.0,
        status=status,
        opened_at=1,
        exit_price=exit_price,
        pnl=pnl,
        closed_at=5,
        fees=0.45,
    )


def fill(role: str, price: float) -> Fill:
    return samples.fill(ts=5, cloid="0x01", side="sell", size=0.0119, price=price, fee=0.2, role=role, venue="p")


def test_a_stop_hit_names_the_symbol_the_numbers_and_the_decision() -> None:
    [notice] = notices(fill("stop", 40_740.0), closed("stopped", 40_740.0, -15.44))
    assert notice.trigger == "stop_hit"
    assert notice.severity == "warning"
    for part in ("stop hit", "BTC long", "entry 42,000", "exit 40,740", "P&L -15.44", DECISION):
        assert part in notice.text
    assert notice.seq == 2


def test_a_target_reached_is_told_from_the_fill_before_the_close() -> None:
    [notice] = notices(fill("target", 46_200.0), closed("closed", 46_200.0, 49.98))
    assert notice.trigger == "target_reached"
    assert "P&L +49.98" in notice.text
    assert notices(fill("exit", 43_000.0), closed("closed", 43_000.0, 11.9)) == []  # an exit is no target


def test_the_kill_switch_pages_critical_when_halted_and_a_venue_fault_says_unreachable() -> None:
    halted = KillSwitchChanged(ts=1, state="HALTED", previous="ACTIVE", cause="drawdown", detail="drawdown 21%")
    down = KillSwitchChanged(ts=2, state="HALTED", previous="ACTIVE", cause="disconnect", detail="down for 61s")
    resumed = KillSwitchChanged(ts=3, state="ACTIVE", previous="HALTED", cause="manual", detail="by hand")
    said = notices(halted, down, resumed)
    assert [(n.trigger, n.severity) for n in said] == [
        ("killswitch", "critical"),
        ("venue", "critical"),
        ("killswitch", "warning"),
    ]
    assert "drawdown 21%" in said[0].text
    assert said[1].text.startswith("venue unreachable")


def test_an_escalation_pages_once_though_the_runtime_also_logs_an_alert_for_it() -> None:
    escalated = ActorEscalated(ts=1, actor="oms", error="VenueUnavailable: 502", restarts=5, window_s=60.0)
    restated = Alert(ts=1, severity="critical", source="supervisor", message="actor oms escalated")
    [notice] = notices(escalated, restated)
    assert (notice.trigger, notice.severity) == ("escalation", "critical")
    assert "oms" in notice.text
    assert "502" in notice.text


@pytest.mark.parametrize(("adjustment", "severity"), [(-400.0, "warning"), (-600.0, "critical")])
def test_an_equity_sync_is_critical_past_the_drift_limit(adjustment: float, severity: str) -> None:
    synced = EquitySynced(ts=1, venue="hyperliquid", equity=10_000.0 + adjustment, adjustment=adjustment)
    restated = Alert(ts=1, severity="warning", source="oms", message="equity set to the venue's account value")
    [notice] = notices(synced, restated)
    assert (notice.trigger, notice.severity) == ("equity_sync", severity)
    assert f"{adjustment:+,.2f}" in notice.text


def test_producer_failures_reconciliation_and_other_alerts_go_out_at_their_severity() -> None:
    said = notices(
        Alert(ts=1, severity="warning", source="enricher", message="producer rsi failed 3 cycles in a row"),
        Alert(ts=2, severity="critical", source="oms", message="reconciliation: BTC position is +1 at the venue"),
        Alert(ts=3, severity="critical", source="oms", message="database write error: disk I/O error"),
        Alert(ts=4, severity="critical", source="oms", message="fill for an order the log does not know: 0x01"),
        Alert(ts=5, severity="info", source="oms", message="stop hit: BTC sell at 1, P&L -1"),  # said by its position
    )
    assert [(n.trigger, n.severity) for n in said] == [
        ("producer", "warning"),
        ("reconciliation", "critical"),
        ("storage", "critical"),
        ("alert", "critical"),
    ]


def test_the_rest_of_the_log_pages_no_one() -> None:
    assert notices(CycleStarted(ts=1, cycle=1, as_of=1, source="simulated", closes={"BTC": 1.0})) == []


def test_identical_alerts_share_a_key_and_different_ones_do_not() -> None:
    a = Notice(trigger="alert", severity="info", text="x", ts=1, seq=1)
    assert a.key == Notice(trigger="alert", severity="info", text="x", ts=9, seq=7).key
    assert a.key != Notice(trigger="alert", severity="info", text="y", ts=1, seq=1).key
