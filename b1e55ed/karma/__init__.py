"""Karma: every directional signal and every rule decision scored by the triple barrier (``book``), the win
probability each source has earned at each conviction (``calibration``), and the scorecards read from the log
(``scorecard``)."""
