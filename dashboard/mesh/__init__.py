"""The mesh as a service graph: the model (`graph`), one appender per kind of
fact (`appenders`), the rules they apply (`health`, `circuit`, `histogram`),
assembly (`build`), the public snapshot document (`snapshot`) and a trace's
path on the graph (`trace_path`). Pure: no Dash, Flask, requests or I/O."""
