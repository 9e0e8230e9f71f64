"""The feature store, done for real: every cycle's snapshot lands in Parquet, matches the log, and survives loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from b1e55ed.features import read_features
from tests.integration.loop_helpers import SIM_ENV, child_env, projection, run_cli


@pytest.mark.slow
def test_every_cycle_is_frozen_by_date_matches_its_logged_hash_and_is_rewritten_when_lost(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    env = child_env(**SIM_ENV, B1E55ED_MARKET__SIM_BARS="200")
    assert run_cli("run", "--db", str(db), cwd=tmp_path, env=env).returncode == 0
    root = tmp_path / "data" / "features"
    frame = read_features(root)
    assert frame.height == 200 * 3
    assert sorted({p.parent.name for p in root.rglob("*.parquet")}) == [f"date=2024-01-{d:02d}" for d in range(1, 10)]

    logged = {
        payload["cycle"]: payload["features_hash"]
        for (text,) in projection(db, "SELECT CAST(payload AS TEXT) FROM events WHERE kind = 'snapshot'")
        if (payload := json.loads(str(text)))
    }
    assert dict(zip(frame["cycle"], frame["features_hash"], strict=True)) == logged
    first_day = read_features(root, end_ms=1_704_153_600_000)  # 2024-01-02 00:00 UTC
    assert set(first_day["cycle"]) == set(range(1, 24))  # cycles closing on 2024-01-01 (01:00 .. 23:00)

    lost = max(root.rglob("*.parquet"))
    lost.unlink()
    assert run_cli("run", "--db", str(db), cwd=tmp_path, env=env).returncode == 0
    assert read_features(root).equals(frame)
