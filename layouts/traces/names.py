"""How the traces pages write names: shorter operation names on screen (the
data and the JSON keep the full ones)."""

from __future__ import annotations

import re

# Istio names proxy spans `host:port/path` with the service's FQDN; on screen
# the cluster suffix and the usual HTTP ports only take room.
_CLUSTER_SUFFIX = re.compile(r"\.svc\.cluster\.local(?=[:/\s]|$)")
_USUAL_PORT = re.compile(r":(?:80|9080)(?=[/\s]|$)")


def display_operation(name: str) -> str:
    """`ratings.bookinfo.svc.cluster.local:9080/ratings/0` reads `ratings.bookinfo/ratings/0`."""
    return _USUAL_PORT.sub("", _CLUSTER_SUFFIX.sub("", name))
