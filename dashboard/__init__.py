"""meshwatch: live topology, traces and canaries for Istio meshes.

Domain modules (graph, appenders, health, circuit, histogram, snapshot, trace,
canary) are pure; app wiring (app, callbacks, api, cli, config) holds state.
"""

__version__ = "0.1.0"
