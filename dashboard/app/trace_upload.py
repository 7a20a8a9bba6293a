"""Opening a trace file in the browser, on both traces pages: the upload is
decoded, parsed and kept in the trace cache; one trace opens, several are
listed, anything else says why in the page's banner."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, State, no_update

from dashboard.app.runtime import Runtime
from dashboard.format import size_text
from layouts.links import trace_href
from layouts.traces.search import trace_links
from layouts.traces.upload import size_check_id
from queries.errors import SourceError
from queries.traces.export import named, read_text
from queries.traces.records import TraceRecord

# The largest file the pages open: it travels base64-encoded inside one Dash request.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
# The pages' upload pickers: (upload id, banner id, where a several-trace file lists its traces).
UPLOADS = [
    ("traces-upload", "traces-banner", "traces-results"),
    ("trace-upload", "trace-banner", "trace-header"),
]


def decode_upload(contents: str, filename: str | None = None) -> list[TraceRecord]:
    """A dcc.Upload data URL holding a trace file (Jaeger export, OTLP JSON or
    JSON Lines, Tempo, Zipkin), of at most MAX_UPLOAD_BYTES; SourceError names the file."""
    name = filename or "the file"
    encoded = contents.partition(",")[2]
    if len(encoded) // 4 * 3 > MAX_UPLOAD_BYTES:
        raise SourceError(f"{name} is larger than {size_text(MAX_UPLOAD_BYTES)}, the limit for trace files")
    try:
        data = base64.b64decode(encoded)
    except (binascii.Error, ValueError):
        raise SourceError(f"{name} did not arrive whole; open it again") from None
    try:
        return read_text(data)
    except SourceError as error:
        raise named(name, error) from None


def register(app: Dash, runtime: Runtime) -> None:
    def open_upload(contents: str | None, filename: str | None) -> tuple[Any, ...]:
        """(href to navigate to, banner text, banner hidden, links to the traces of a several-trace file)."""
        if not contents:
            return no_update, no_update, no_update, no_update
        try:
            traces = [trace for trace in decode_upload(contents, filename) if trace.spans]
        except SourceError as error:
            traces, message = [], str(error)
        else:
            message = None if traces else f"{filename or 'upload'} holds no spans"
        for trace in traces:
            runtime.traces.put(trace)
        if len(traces) == 1:
            return trace_href(traces[0].trace_id), None, True, no_update
        links = trace_links([trace.trace_id for trace in traces]) if traces else no_update
        return no_update, message, not message, links

    for upload_id, banner_id, links_id in UPLOADS:
        app.callback(
            Output("url", "href", allow_duplicate=True),
            Output(banner_id, "children", allow_duplicate=True),
            Output(banner_id, "hidden", allow_duplicate=True),
            Output(links_id, "children", allow_duplicate=True),
            Input(upload_id, "contents"),
            State(upload_id, "filename"),
            prevent_initial_call=True,
        )(open_upload)
        app.clientside_callback(
            ClientsideFunction("meshwatch", "checkUploadSize"),
            Output(size_check_id(upload_id), "children"),
            Input(upload_id, "max_size"),
            State(upload_id, "id"),
            State(banner_id, "id"),
            State(size_check_id(upload_id), "title"),
        )
