"""The alerter built from the config: its channels and their couriers; and Telegram control when a bot is set.

A channel is on when its secret and address are set; ``alerts.log`` always is. A run driven by history (a replay,
a backtest) pages no one: its alerts go to ``alerts.log`` only, unless ``alerts.in_replay`` is set, and it takes no
command.
"""

from __future__ import annotations

import random
from pathlib import Path

import httpx

from b1e55ed.alerts.alerter import Alerter
from b1e55ed.alerts.channels import Channel
from b1e55ed.alerts.channels.logfile import LogFileChannel
from b1e55ed.alerts.channels.smtp import SmtpChannel
from b1e55ed.alerts.channels.telegram import TelegramApi, TelegramChannel
from b1e55ed.alerts.channels.webhook import WebhookChannel
from b1e55ed.alerts.control import Reads, TelegramControl
from b1e55ed.alerts.delivery import Backoff, Courier, RateLimit
from b1e55ed.alerts.store import alerts_db_path
from b1e55ed.alerts.triggers import Triggers
from b1e55ed.broadcast import Broadcast
from b1e55ed.clock import Clock
from b1e55ed.config import Config
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.health import ActorHealth, HealthRegistry
from b1e55ed.trading_config import is_driven

ALERTS_LOG = "alerts.log"


def channels(config: Config, http: httpx.AsyncClient, *, pages: bool) -> tuple[list[Channel], TelegramApi | None]:
    """Every channel configured (only the log when ``pages`` is false), and the Telegram API when it is one."""
    alerts, keys = config.alerts, config.keys
    found: list[Channel] = [LogFileChannel(Path(config.logging.dir) / ALERTS_LOG)]
    telegram = None
    if not pages:
        return found, None
    if keys.telegram_bot_token and alerts.telegram_chat_id is not None:
        telegram = TelegramApi(
            http, base_url=alerts.telegram_url, token=keys.telegram_bot_token, timeout_s=alerts.timeout_s
        )
        found.append(TelegramChannel(telegram, alerts.telegram_chat_id))
    if alerts.webhook_url:
        found.append(WebhookChannel(http, alerts.webhook_url, timeout_s=alerts.timeout_s))
    if alerts.smtp.host:
        found.append(SmtpChannel(alerts.smtp, keys.smtp_password))
    return found, telegram


def build_alerter(
    config: Config,
    *,
    log: EventLog,
    hub: Broadcast[Record],
    health: HealthRegistry,
    clock: Clock,
    db: Path,
    http: httpx.AsyncClient,
    rng: random.Random | None = None,
) -> Alerter:
    """The alerter of the log at ``db``. ``rng``: the source of the retries' jitter (by default its own, seeded
    from ``runtime.seed``: delivery timing must never shift the trading run's draws)."""
    alerts = config.alerts
    found, telegram = channels(config, http, pages=pages(config))
    backoff = Backoff(alerts.backoff_initial_s, alerts.backoff_max_s, alerts.jitter)
    rng = rng if rng is not None else random.Random(f"alerts:{config.runtime.seed}")
    couriers = [
        Courier(
            channel,
            backoff=backoff,
            rng=rng,
            rate=RateLimit(alerts.rate_per_min) if channel.limited else None,
            health=health.register(f"alerts.{channel.name}"),
        )
        for channel in found
    ]
    return Alerter(
        log=log,
        hub=hub,
        store_path=alerts_db_path(db),
        couriers=couriers,
        triggers=Triggers(equity_drift_pct=alerts.equity_drift_pct),
        clock=clock,
        dedup_s=alerts.dedup_s,
        telegram=telegram,
    )


def pages(config: Config) -> bool:
    """Whether alerts may reach a person: not from a run driven by history, unless ``alerts.in_replay``."""
    return config.alerts.in_replay or not is_driven(config.market)


def commands(
    config: Config, telegram: TelegramApi | None, *, read: Reads, db: Path, health: ActorHealth
) -> TelegramControl | None:
    """Telegram control, when a bot is configured and the run is live or paper on the wall clock."""
    if telegram is None or is_driven(config.market):
        return None
    alerts = config.alerts
    return TelegramControl(
        telegram,
        read=read,
        db=db,
        store_path=alerts_db_path(db),
        allowed_chats=alerts.allowed_chats(),
        poll_s=alerts.telegram_poll_s,
        backoff=Backoff(alerts.backoff_initial_s, alerts.backoff_max_s, alerts.jitter),
        rng=random.Random(f"telegram:{config.runtime.seed}"),
        health=health,
    )
