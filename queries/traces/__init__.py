"""Traces on the wire: plain records (`records`), the formats they arrive in
(Jaeger's v1 JSON, OTLP JSON), export files, and a span's details read on
demand. The same records whatever the source, so the trace model never sees
a format."""
