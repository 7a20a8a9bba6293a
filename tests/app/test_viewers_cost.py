"""Twenty viewers of one view cost four PromQL queries per refresh interval,
counted by Prometheus itself (its query log)."""

from __future__ import annotations

import pytest

from queries import promql
from tests.support.prometheus import start_prometheus
from tests.support.viewers import mesh_openmetrics, watch

pytestmark = pytest.mark.prometheus


def test_twenty_viewers_of_one_view_cost_four_queries_per_refresh_interval(tmp_path):
    with start_prometheus(tmp_path, openmetrics_text=mesh_openmetrics(), query_log=True) as prometheus:
        cost = watch(prometheus, viewers=20, seconds=4.0, refresh=1.0)
    assert cost.graphs > 20  # the viewers saw graphs, several polls each
    assert cost.polls >= 2 * cost.instant_queries  # far more polls than queries
    # Each evaluation time (an interval's) was asked once: the four mesh queries.
    assert set(cost.by_time.values()) == {len(promql.MESH_QUERY_NAMES)} == {4}, cost.by_time
    # One evaluation per interval the viewers polled through (the last may start as they stop).
    assert 3 <= cost.intervals <= 6
    # The baseline lookback (the time slider's range) is read once per 10-minute step, not per poll.
    assert cost.range_queries <= 1
