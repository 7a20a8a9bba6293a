"""Span tags as links, only where the operator configured one
(`--trace-link TAG=URL`, like the Jaeger UI's linkPatterns): a tag value
from a trace is attacker-controlled text and is never a link by itself.

In URL, `#{TAG}` stands for the value of that tag of the span (or of its
process), URL-encoded; a URL that is just `#{TAG}` is the tag's value
itself. Only an absolute http(s) URL with a host becomes a link, and the
link shows that host, so nobody follows it blind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

_PLACEHOLDER = re.compile(r"#\{([^{}]+)\}")


@dataclass(frozen=True)
class TagLink:
    url: str
    host: str  # as shown: IDNA (punycode) for a non-ASCII host


def tag_link(key: str, values: Mapping[str, str], patterns: Sequence[tuple[str, str]]) -> TagLink | None:
    """The link a configured pattern makes of the tag `key` (the span's tag
    values in `values`), or None."""
    for tag, template in patterns:
        if tag != key:
            continue
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            url = values.get(whole.group(1))
        else:
            names = _PLACEHOLDER.findall(template)
            if not all(name in values for name in names):
                continue
            url = _PLACEHOLDER.sub(lambda match: quote(values[match.group(1)], safe=""), template)
        link = _checked(url)
        if link is not None:
            return link
    return None


def _checked(url: str | None) -> TagLink | None:
    """An absolute http(s) URL with a host, printable ASCII once its host is IDNA-encoded."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    if parts.scheme not in ("http", "https") or not host or not url.strip().isprintable():
        return None
    return TagLink(url.strip(), host)
