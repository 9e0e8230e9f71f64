"""Alerts that reach a person, and control of trading from Telegram.

``triggers`` (which events page, and the message), ``store`` (alerts.db), ``channels/`` (one module each),
``delivery`` (retries, backoff, rate limit), ``alerter`` (the follower), ``control`` (Telegram commands, an actor
the pipeline wires with the API's read model) and ``wiring`` (the alerter built from the config). The settings are
``b1e55ed.alerts_config``.
"""
