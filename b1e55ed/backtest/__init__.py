"""Backtests and their reports.

``options`` turns ``backtest``'s flags into a plan (config, database, report folder); ``resume`` decides whether an
existing log may be continued; ``progress`` draws the bar from committed records; ``history`` reads a run from its
event log; ``metrics`` holds the maths, each metric defined in its docstring; ``report`` computes the report and
writes it as JSON, and ``html`` with ``svg`` as one self-contained page.
"""
