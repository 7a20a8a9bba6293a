"""The span detail panel: a span's facts, warnings, tags, process, logs and
references. Every text from the trace is shown as text, made visible
(layouts.text); a tag is a link only through a configured pattern
(layouts.traces.tag_links), and the link names its host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dash import dcc, html

from dashboard.format import duration_text
from dashboard.traces.details import SpanDetails, Tag
from dashboard.traces.tree import TraceTree
from layouts.links import trace_href
from layouts.text import visible
from layouts.traces.names import display_operation
from layouts.traces.tag_links import tag_link

LinkPatterns = Sequence[tuple[str, str]]


def _tag_table(
    tags: list[Tag], values: Mapping[str, str] | None = None, links: LinkPatterns = ()
) -> html.Table | html.Div:
    """Tags as key/value rows; with `links`, the tags they name link out (the host shown)."""
    if not tags:
        return html.Div("none", className="mw-muted")
    return html.Table(
        [
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(visible(t.key), className="mw-tag-key"),
                            html.Td(_tag_cell(t, values, links)),
                        ]
                    )
                    for t in tags
                ]
            )
        ],
        className="mw-table mw-tags",
    )


def _tag_cell(tag: Tag, values: Mapping[str, str] | None, links: LinkPatterns) -> list:
    text = visible(_tag_value(tag))
    link = tag_link(tag.key, values or {}, links) if links else None
    if link is None:
        return [text]
    return [
        text,
        " ",
        html.A(
            f"↗ {link.host}",
            href=link.url,
            target="_blank",
            rel="noopener noreferrer nofollow",
            title=visible(link.url),
            className="mw-link mw-tag-link",
        ),
    ]


def _tag_value(tag: Tag) -> str:
    if tag.type == "binary":
        return f"(binary, base64) {tag.value}"
    if isinstance(tag.value, bool):
        return "true" if tag.value else "false"
    return str(tag.value)


def span_detail(tree: TraceTree, index: int, details: SpanDetails, links: LinkPatterns = ()) -> html.Div:
    """The panel of one span; `links` are the configured link patterns (--trace-link)."""
    span = tree.span(index)
    span_id = tree.span_ids[index]
    link = trace_href(tree.trace_id, span_id)
    values = {t.key: _tag_value(t) for t in [*details.process_tags, *details.tags]}
    facts = [
        ("Service", visible(span.service)),
        ("Operation", visible(span.operation)),
        ("Span id", visible(span_id)),
        ("Start", f"+{duration_text(span.start_us - tree.start_us)}"),
        ("Duration", duration_text(span.duration_us)),
        ("Self time", duration_text(tree.self_us[index])),
        ("On critical path", duration_text(tree.critical_us[index])),
        ("Kind", span.kind or "–"),
    ]
    logs = [
        html.Div(
            [html.Strong(f"+{duration_text(log.timestamp_us - span.start_us)}"), _tag_table(log.fields)],
            className="mw-log",
        )
        for log in details.logs
    ]
    references = [
        html.Li(
            [
                f"{visible(ref.ref_type)} ",
                dcc.Link(visible(ref.span_id), href=trace_href(tree.trace_id, ref.span_id))
                if tree.index_of(ref.span_id) is not None
                else html.Span(f"{visible(ref.span_id)} (not in this trace)"),
            ]
        )
        for ref in details.references
    ]
    return html.Div(
        className="mw-span-panel" + (" mw-error" if span.error else ""),
        children=[
            html.H3(
                [
                    visible(f"{span.service}: {display_operation(span.operation)}"),
                    html.Span(" ERROR", className="mw-error-text") if span.error else None,
                ]
            ),
            html.Table(
                [html.Tbody([html.Tr([html.Th(k), html.Td(v)]) for k, v in facts])], className="mw-table"
            ),
            html.A("Link to this span", href=link, id="trace-span-link", className="mw-link"),
            html.H4("Warnings") if details.warnings else None,
            html.Ul([html.Li(visible(w)) for w in details.warnings], className="mw-warnings")
            if details.warnings
            else None,
            html.H4(f"Tags ({len(details.tags)})"),
            _tag_table(details.tags, values, links),
            html.H4(f"Process ({len(details.process_tags)})"),
            _tag_table(details.process_tags, values, links),
            html.H4(f"Logs ({len(details.logs)})"),
            *(logs or [html.Div("none", className="mw-muted")]),
            html.H4("References"),
            html.Ul(references) if references else html.Div("none (root span)", className="mw-muted"),
        ],
    )
