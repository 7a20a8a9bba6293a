"""Self time: a span's duration minus the union of its children's
intervals, clipped to the span (Jaeger UI's rule)."""

from __future__ import annotations


def self_times(children: list[list[int]], starts: list[int], ends: list[int]) -> list[int]:
    """Duration minus the union of children's intervals clipped to the span."""
    result = []
    for i, kids in enumerate(children):
        start, end = starts[i], ends[i]
        covered = 0
        run_start = run_end = start
        for kid in kids:  # sorted by start, so clipped starts are sorted too
            kid_start = max(starts[kid], start)
            kid_end = min(ends[kid], end)
            if kid_end <= kid_start:
                continue
            if kid_start > run_end:
                covered += run_end - run_start
                run_start, run_end = kid_start, kid_end
            elif kid_end > run_end:
                run_end = kid_end
        covered += run_end - run_start
        result.append(end - start - covered)
    return result
