"""The two kinds of failure every layer reports, each as one line fit for a user."""

from __future__ import annotations


class SourceError(Exception):
    """A data source (Prometheus, Jaeger, the Kubernetes API) failed; str(error)
    is one line fit for a user."""


class ConfigError(ValueError):
    """Bad input from the user (an option, a file, a query parameter); the
    message is one line fit for a user."""


class TraceNotFound(SourceError):
    """The tracing backend (Jaeger, Tempo) answered, but has no trace with that id."""
