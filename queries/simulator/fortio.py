"""A fortio-like load client: `fortio load -c C -qps 0 -n N URL` and `-curl`.

Like fortio, the N calls are split evenly over C connections ("threads"),
each sending its next call as soon as the previous answer arrives (-qps 0
means no pacing). A rejected call comes back fast, so a thread that keeps
being rejected burns through its share quickly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# fortio's own time between receiving an answer and sending the next call
# (its loop, statistics and, for non-2xx answers, the warning it logs).
CLIENT_TURNAROUND = (0.0002, 0.3)


@dataclass(frozen=True)
class LoadRun:
    """One fortio command run from a workload's pod against a service path."""

    concurrency: int = 1
    requests: int = 1
    service: str = "ratings"
    path: str = "/ratings/0"
    # An operator holding the ejection re-runs the test only once the
    # destination is back (it would get nothing but 503 UH before).
    skip_while_ejected: bool = False

    @property
    def command(self) -> str:
        url = f"http://{self.service}:9080{self.path}"
        if self.concurrency == 1 and self.requests == 1:
            return f"fortio curl {url}"
        return f"fortio load -c {self.concurrency} -qps 0 -n {self.requests} -loglevel Warning {url}"

    def shares(self) -> list[int]:
        """Calls per thread, as fortio splits -n over -c."""
        base, extra = divmod(self.requests, self.concurrency)
        return [base + (1 if thread < extra else 0) for thread in range(self.concurrency)]


@dataclass
class LoadResult:
    """What fortio prints at the end: counts per HTTP code (and Envoy flag)."""

    run: LoadRun
    started_at: float
    ended_at: float | None = None
    codes: Counter = field(default_factory=Counter)
    flags: Counter = field(default_factory=Counter)

    @property
    def calls(self) -> int:
        return sum(self.codes.values())

    def share(self, *, code: int | None = None, flag: str | None = None) -> float:
        """Fraction of the calls with this code (or this response flag)."""
        if not self.calls:
            return 0.0
        count = self.codes[code] if code is not None else self.flags[flag]
        return count / self.calls
