"""Text from the mesh (label values, span names, tags) as the pages show it.

Prometheus labels and span text are whatever a workload or an attacker put
there. On screen, control characters, bidirectional embeddings, overrides
and isolates, and invisible marks are made visible as escapes (`\\x00`,
`\\u202e`), so a name can neither hide characters nor reverse the text
after it. Dash renders strings as text, never markup; Plotly's labels read a
little HTML (`<br>`, `<a href>`), so text bound for Plotly is escaped too.
"""

from __future__ import annotations

import html
import re
from typing import Any

# C0 and C1 controls, DEL; Arabic letter mark; zero-width spaces and joiners,
# LRM/RLM; line and paragraph separators; LRE, RLE, PDF, LRO, RLO; word
# joiner and invisible operators; LRI, RLI, FSI, PDI; the BOM.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(text: Any) -> str:
    """`text` with every control, bidi or invisible character written as an escape."""
    return _HIDDEN.sub(_escape, str(text))


def plotly_text(text: Any) -> str:
    """`visible(text)` for a Plotly label or hover text: its markup escaped too."""
    return html.escape(visible(text), quote=False)
