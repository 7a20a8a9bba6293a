"""Data sources: Prometheus, Jaeger and the built-in simulated mesh.

Everything here talks to the outside world (or stands in for it) and hands
the rest of meshwatch tidy pandas frames and plain trace records.
"""
