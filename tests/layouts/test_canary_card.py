"""The canary card shows the rollout controller's phase beside the verdict."""

from __future__ import annotations

from dashboard.canary.release import analyze
from layouts.canary import service_card
from queries.istio.load import from_manifests
from tests.canary.test_routes_and_controllers import MINUTE, SETTINGS, argo_rollout, http_route, mesh


def spans(component, found=None) -> list:
    found = [] if found is None else found
    if getattr(component, "className", None) and "mw-controller" in component.className:
        found.append(component)
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            spans(child, found)
    return found


def card(status):
    graph = mesh(("reviews-stable", "reviews-v1", 8, 0), ("reviews-canary", "reviews-v2", 2, 0.5))
    config = from_manifests(
        [http_route(("reviews-stable", 80), ("reviews-canary", 20)), argo_rollout(status)]
    )
    [release] = analyze(graph, None, config, SETTINGS.canary, MINUTE)
    return release, service_card(release)


def test_the_controllers_phase_sits_beside_the_verdict():
    release, section = card({"phase": "Paused", "currentStepIndex": 1})
    [badge] = spans(section)
    assert badge.children == "Argo Rollouts: PAUSED"
    assert badge.to_plotly_json()["props"]["data-state"] == "paused"
    header = section.children[0].children
    assert header.index(badge) == len(header) - 2  # just before the verdict badge
    assert "mw-controller-disagrees" in badge.className  # it goes on while the canary fails
    assert badge.title == release.disagreement


def test_no_controller_no_badge():
    graph = mesh(("reviews-stable", "reviews-v1", 8, 0), ("reviews-canary", "reviews-v2", 2, 0))
    [release] = analyze(
        graph,
        None,
        from_manifests([http_route(("reviews-stable", 80), ("reviews-canary", 20))]),
        SETTINGS.canary,
        MINUTE,
    )
    assert spans(service_card(release)) == []
