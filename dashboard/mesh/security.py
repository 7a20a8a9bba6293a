"""Whether an edge's requests were mutual TLS (Kiali's security display).

Only the server-side proxy knows how a connection was secured: Istio labels
its series `connection_security_policy="mutual_tls"` or `"none"` (plain
text); a client-side proxy always says `unknown`. Requests a caller's
sidecar rejected never reached a server, so they say nothing either way.
"""

from __future__ import annotations

from collections.abc import Mapping

MUTUAL_TLS, PLAIN_TEXT = "mutual_tls", "none"


def mtls_state(policies: Mapping[str, float]) -> bool | None:
    """`True` when the edge's requests in the window were all mutual TLS,
    `False` when any went in plain text, `None` when none says (no
    delivered requests, or only `unknown`). `policies`: request rate by
    connection_security_policy."""
    if policies.get(PLAIN_TEXT, 0.0) > 0:
        return False
    if policies.get(MUTUAL_TLS, 0.0) > 0:
        return True
    return None
