"""The span detail panel: first what failed, in one line; then the span's
facts, warnings, tags, process, logs and references. Every text from the
trace is shown as text, made visible (layouts.text); tag values are rendered
in one place (`tag_value_text`); a tag is a link only through a configured
pattern (layouts.traces.tag_links), and the link names its host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dash import dcc, html

from dashboard.format import duration_text, utc_timestamp_us
from dashboard.traces.details import SpanDetails, Tag
from dashboard.traces.failure import Failure
from dashboard.traces.tree import TraceTree
from dashboard.traces.versions import SpanVersion
from layouts.links import trace_href
from layouts.text import visible
from layouts.traces.names import display_operation
from layouts.traces.tag_links import tag_link

LinkPatterns = Sequence[tuple[str, str]]


def tag_value_text(tag: Tag) -> str:
    """How a tag's value reads on screen: the one rendering of tag values."""
    if tag.type == "binary":
        return f"(binary, base64) {tag.value}"
    if isinstance(tag.value, bool):
        return "true" if tag.value else "false"
    return str(tag.value)


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
    text = visible(tag_value_text(tag))
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


def failure_line(failure: Failure) -> html.Div:
    """The span's own failure, first thing in the panel."""
    return html.Div(
        [html.Strong("Failed: "), visible(failure.line)], className="mw-failure", id="trace-failure"
    )


def failure_below_line(tree: TraceTree, index: int, failure: Failure | None) -> html.Div:
    """For a span that did not fail itself: where the failure under it starts, with a link."""
    span = tree.span(index)
    return html.Div(
        [
            html.Strong("Failed below: "),
            dcc.Link(
                visible(f"{span.service}: {display_operation(span.operation)}"),
                href=trace_href(tree.trace_id, tree.span_ids[index]),
                className="mw-link",
            ),
            visible(f" · {failure.line}") if failure else None,
        ],
        className="mw-failure mw-failure-below",
        id="trace-failure",
    )


def span_detail(
    tree: TraceTree,
    index: int,
    details: SpanDetails,
    version: SpanVersion,
    failure: Failure | None,
    below: html.Div | None = None,
    links: LinkPatterns = (),
) -> html.Div:
    """The panel of one span; `links` are the configured link patterns (--trace-link)."""
    span = tree.span(index)
    span_id = tree.span_ids[index]
    link = trace_href(tree.trace_id, span_id)
    values = {t.key: tag_value_text(t) for t in [*details.process_tags, *details.tags]}
    facts = [
        ("Service", visible(span.service)),
        ("Operation", visible(span.operation)),
        ("Version", visible(" · ".join(part for part in (version.version, version.pod) if part) or "–")),
        ("Span id", visible(span_id)),
        ("Start", f"+{duration_text(span.start_us - tree.start_us)} · {utc_timestamp_us(span.start_us)}"),
        ("Duration", duration_text(span.duration_us)),
        ("Self time", duration_text(tree.self_us[index])),
        ("On critical path", duration_text(tree.critical_us[index])),
        ("Kind", visible(span.kind or "–")),
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
            failure_line(failure) if failure else below,
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


def cause_panel(panel: html.Div) -> html.Div:
    """What the panel shows before a click on a failed trace: the span its failure starts at."""
    return html.Div(
        [
            html.Div(
                "This trace failed; here is where it starts. Click a span for its own details.",
                className="mw-muted",
            ),
            panel,
        ]
    )
