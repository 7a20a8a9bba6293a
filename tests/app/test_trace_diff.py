"""`meshwatch trace-diff`: two traces compared by span path, from files or the backend."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from dashboard.app.cli import main
from dashboard.traces.compare import compare_traces, diff_document
from queries.simulator import Simulation
from queries.simulator.server import make_server
from queries.simulator.traces import trace_id_hex
from queries.traces.jaeger_v1 import parse_trace
from tests.support.jaeger import TRACE_503, TRACE_OK, bookinfo_trace, circuit_open_trace
from tests.traces.test_trace_model import make_trace

NODE_KEYS = ["path", "a_count", "b_count", "a_duration_us", "b_duration_us", "status"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(["trace-diff", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else out), err


def write(tmp_path: Path, document: Any, name: str) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def reviews_v2_traces(simulation: Simulation) -> tuple[str, str]:
    """A user request through reviews-v2 whose call to ratings worked, and one it failed (ejection)."""
    healthy = failing = None
    for trace in simulation.traces:
        spans = trace.spans
        if spans[-1].workload.name != "istio-ingressgateway" or not any(
            s.service == "ratings" and s.workload.name == "reviews-v2" for s in spans
        ):
            continue
        if any(s.error for s in spans):
            failing = failing or trace_id_hex(trace.trace_id)
        else:
            healthy = trace_id_hex(trace.trace_id)
    assert healthy and failing
    return healthy, failing


def test_the_demo_healthy_against_failing_names_the_ratings_hop_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Held at the ejection, the simulated Jaeger still holds the canary phase's healthy traces.
    simulation = Simulation(seed=1, start=1_800_000_000.0, wall_clock=lambda: 0.0, phase="ejection")
    server = make_server(simulation, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    healthy, failing = reviews_v2_traces(simulation)
    try:
        code, doc, err = run(capsys, healthy, failing, "--jaeger", f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0, err
    assert (doc["a"], doc["b"]) == (healthy, failing)
    first = doc["nodes"][0]
    assert first["status"] in ("changed", "removed") and "ratings" in first["path"][-1]
    assert [list(node)[:6] for node in doc["nodes"]] == [NODE_KEYS] * len(doc["nodes"])
    removed = [node["path"][-1] for node in doc["nodes"] if node["status"] == "removed"]
    assert removed and all(name.startswith("ratings.bookinfo:") for name in removed)


def test_two_files_a_shared_file_and_only_trace_markers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write(tmp_path, bookinfo_trace(), "a.json")
    b = write(tmp_path, {"data": [circuit_open_trace()]}, "b.json")
    code, doc, _ = run(capsys, "--file-a", a, "--file-b", b)
    assert code == 0 and (doc["a"], doc["b"]) == (TRACE_OK, TRACE_503)
    both = write(tmp_path, {"data": [bookinfo_trace(), circuit_open_trace()]}, "both.json")
    code, shared, _ = run(capsys, "--file", both)
    assert code == 0 and shared == doc
    code, reverse, _ = run(capsys, TRACE_503, TRACE_OK, "--file", both)
    assert code == 0 and (reverse["a"], reverse["b"]) == (TRACE_503, TRACE_OK)
    code, marked, _ = run(capsys, "-", "-", "--file-a", a, "--file-b", b)
    assert code == 0 and marked == doc


@pytest.mark.parametrize(
    "argv, message",
    [
        (["abc"], "give two trace ids, A and B"),
        ([], "give trace ids A and B to compare traces from Jaeger or Tempo"),
        (
            ["-", "abc", "--jaeger", "http://127.0.0.1:9"],
            "- stands for the only trace of a file, and side A has no file",
        ),
        (["xyz!", "abc", "--jaeger", "http://127.0.0.1:9"], "bad trace id 'xyz!'"),
    ],
)
def test_bad_arguments_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_a_shared_file_must_hold_two_traces(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = write(tmp_path, bookinfo_trace(), "one.json")
    code, _, err = run(capsys, "--file", one)
    assert code == 2 and "holds 1 trace; give the ids of the two to compare" in err
    code, _, err = run(capsys, "abc", "def", "--file", one)
    assert code == 2 and "trace abc is not in" in err


def test_nodes_are_matched_by_path_and_classified() -> None:
    a = make_trace(
        ("r", None, 0, 1000, "web"),
        ("x", "r", 10, 100, "api"),
        ("y", "r", 200, 100, "api"),  # same path as x: one node, counted twice
        ("z", "x", 20, 50, "db"),
        ("gone", "r", 400, 300, "cache"),
    )
    a.span(a.index_of("y")).operation = "op-x"
    b = make_trace(
        ("r", None, 0, 1000, "web"),
        ("x", "r", 10, 400, "api"),  # one api call now, slower
        ("z", "x", 20, 50, "db"),
        ("new", "r", 500, 250, "queue"),
    )
    doc = diff_document(compare_traces(a, b))
    nodes = {tuple(node["path"]): node for node in doc["nodes"]}
    api = ("web:op-r", "api:op-x")
    assert (nodes[api]["a_count"], nodes[api]["b_count"], nodes[api]["status"]) == (2, 1, "changed")
    assert nodes[("web:op-r", "cache:op-gone")]["status"] == "removed"
    assert nodes[("web:op-r", "queue:op-new")]["status"] == "added"
    assert nodes[api + ("db:op-z",)]["status"] == "same"
    # What ran differently first, the longest time involved leading; the same last.
    assert [node["status"] for node in doc["nodes"]] == ["removed", "added", "changed", "changed", "same"]
    assert [node["path"][-1] for node in doc["nodes"]][:3] == ["cache:op-gone", "queue:op-new", "api:op-x"]


def test_small_timing_wobbles_are_not_changes() -> None:
    a = make_trace(("r", None, 0, 1000, "web"), ("x", "r", 10, 500, "api"))
    b = make_trace(("r", None, 0, 1050, "web"), ("x", "r", 10, 550, "api"))
    assert [node.status for node in compare_traces(a, b).nodes] == ["same", "same"]
    slower = make_trace(("r", None, 0, 1600, "web"), ("x", "r", 10, 1100, "api"))
    diff = compare_traces(a, slower)
    # Both grew, but api is where the time went: its own time leads, its caller follows.
    assert [(node.path[-1], node.status) for node in diff.nodes] == [
        ("api:op-x", "changed"),
        ("web:op-r", "changed"),
    ]
    assert [node.path[-1] for node in diff.critical_path("b")] == ["web:op-r", "api:op-x"]


def test_identical_traces_have_no_differences() -> None:
    tree = make_trace(("r", None, 0, 100, "web"), ("x", "r", 10, 50, "api"))
    assert {node["status"] for node in diff_document(compare_traces(tree, tree))["nodes"]} == {"same"}
    from dashboard.traces.tree import build_tree

    same = build_tree(parse_trace(bookinfo_trace()))
    assert all(node.status == "same" for node in compare_traces(same, same).nodes)
