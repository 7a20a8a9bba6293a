"""Opening a trace file in the browser, on both traces pages: the upload is
decoded, parsed and kept in the trace cache; one trace opens, several are
listed, anything else says why in the page's banner.

A file over --max-upload-mb is refused by the browser before it is sent
(dcc.Upload's max_size, with the size check's message), and by the server
before the request is parsed (Flask's MAX_CONTENT_LENGTH, set by
`request_limit`); decoding and parsing take one of the trace cache's
parse slots, so uploads in parallel cannot multiply the memory."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, State, no_update

from dashboard.app.config import Settings, bytes_of
from dashboard.app.runtime import Runtime
from dashboard.format import size_text
from layouts.links import trace_href
from layouts.text import visible
from layouts.traces.search import trace_links
from layouts.traces.upload import size_check_id
from queries.errors import SourceError
from queries.traces.export import named, read_text
from queries.traces.records import TraceRecord

# The pages' upload pickers: (upload id, banner id, where a several-trace file lists its traces).
UPLOADS = [
    ("traces-upload", "traces-banner", "traces-results"),
    ("trace-upload", "trace-banner", "trace-header"),
]


def upload_limit(settings: Settings) -> int:
    """The largest trace file the pages open, in bytes (--max-upload-mb)."""
    return bytes_of(settings.max_upload_mb)


def request_limit(settings: Settings) -> int:
    """The largest request the server reads: an upload's data URL (base64,
    4 bytes for 3) inside a Dash callback's JSON, and a little room."""
    return upload_limit(settings) * 4 // 3 + (1 << 20)


def upload_data(contents: str, max_bytes: int, filename: str | None = None) -> bytes:
    """The bytes of a dcc.Upload data URL of at most `max_bytes`; SourceError names the file."""
    name = filename or "the file"
    encoded = contents.partition(",")[2]
    if len(encoded) // 4 * 3 > max_bytes:
        raise SourceError(
            f"{name} is larger than {size_text(max_bytes)}, the limit for trace files (--max-upload-mb)"
        )
    try:
        return base64.b64decode(encoded)
    except (binascii.Error, ValueError):
        raise SourceError(f"{name} did not arrive whole; open it again") from None


def open_file(runtime: Runtime, data: bytes) -> list[TraceRecord]:
    """A trace file's traces with spans, analysed and kept (in the shared
    cache too, with --cache-url); call inside the trace cache's `parsing()`."""
    traces = [trace for trace in read_text(data) if trace.spans]
    for trace in traces:
        runtime.traces.put(trace)
    if traces and runtime.uploads is not None:
        try:
            runtime.uploads.keep(data, [trace.trace_id for trace in traces])
        except SourceError as error:
            runtime.backends.failed("cache", "Redis", error)  # this replica still has them
    return traces


def register(app: Dash, runtime: Runtime) -> None:
    limit = upload_limit(runtime.settings)

    def open_upload(contents: str | None, filename: str | None) -> tuple[Any, ...]:
        """(href to navigate to, banner text, banner hidden, links to the traces of a several-trace file)."""
        if not contents:
            return no_update, no_update, no_update, no_update
        try:
            data = upload_data(contents, limit, filename)
            with runtime.traces.parsing():
                try:
                    traces = open_file(runtime, data)
                except SourceError as error:
                    raise named(filename or "the file", error) from None
        except SourceError as error:
            traces, message = [], visible(error)
        else:
            message = None if traces else visible(f"{filename or 'upload'} holds no spans")
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
