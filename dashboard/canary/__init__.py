"""Canary and release analysis: what the routing config says (`routing`), what
the telemetry shows (`observation`), the baseline, the verdict rules
(`verdict`), their assembly per service (`release`) and the public canary
document. Pure: no Dash, Flask, requests or I/O. `thresholds` stays free of
pandas so that reading the settings stays cheap."""
