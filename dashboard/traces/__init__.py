"""The trace model, one module per concept as in the Jaeger UI's trace
transforms: the span tree and its warnings (`tree`), self time, the critical
path, the hops a trace crossed, the waterfall's rows (collapse, find, proxy
hiding), summaries, a span's details and the public trace document. Pure: no
Dash, Flask, requests or I/O."""
