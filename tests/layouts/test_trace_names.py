"""How the traces pages write names and counts."""

from __future__ import annotations

from dashboard.format import plural
from layouts.traces.names import display_operation


def test_operation_names_on_screen_drop_istios_cluster_suffix_and_usual_ports() -> None:
    assert (
        display_operation("ratings.bookinfo.svc.cluster.local:9080/ratings/0") == "ratings.bookinfo/ratings/0"
    )
    assert display_operation("web.shop.svc.cluster.local:80/") == "web.shop/"
    assert display_operation("cart.shop.svc.cluster.local:8443/x") == "cart.shop:8443/x"
    assert display_operation("db.svc.cluster.local.example:9080") == "db.svc.cluster.local.example"
    assert display_operation("GET /api:90801") == "GET /api:90801"
    assert [plural(1, "error"), plural(2, "error"), plural(1_204, "span")] == [
        "1 error",
        "2 errors",
        "1,204 spans",
    ]
