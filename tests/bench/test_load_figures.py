"""The load benchmark's figures: steady state leaves out ramp-up and drain."""

from __future__ import annotations

import pytest

from benchmarks.load import summarise


def record(start: float, end: float, ok: bool = True) -> dict:
    return {"start": start, "end": end, "ok": ok, "frames": 150 if ok else 0, "status": 200 if ok else 503}


def test_steady_rate_is_from_the_first_completion_until_the_clients_stop() -> None:
    # One 150-frame request completes every second from t=3 to t=40, after a slow
    # start at t=0; the clients stop at t=40 and two late ones drain until t=49.
    steady = [record(end - 3, end) for end in range(3, 41)]
    drain = [record(39.0, 45.0), record(40.0, 49.0)]
    failed = [record(10.0, 10.5, ok=False)]

    level = summarise(steady + drain + failed, clients=4, replicas=[2, 2], until=40.0)

    assert level["frames_per_s"] == pytest.approx(150.0)  # 37 requests in the 37 s after t=3
    assert level["requests_per_s"] == pytest.approx(1.0)
    assert level["steady_window_s"] == pytest.approx(37.0)
    # Ramp-up and drain count in the whole level: 40 good requests over 49 s.
    assert level["whole_level_frames_per_s"] == pytest.approx(40 * 150 / 49, abs=0.1)
    assert (level["requests"], level["errors"]) == (41, 1)
    assert level["replicas_seen"] == [2]


def test_replicas_finishing_in_pairs_are_not_overstated() -> None:
    # Two replicas each finish a request every 2 s, together: 1 request/s in truth.
    # A window from one completion to another would count 37 in 36 s.
    paired = [record(end - 2, end + offset) for end in range(4, 41, 2) for offset in (0.0, 0.01)]

    level = summarise(paired, clients=2, replicas=[2], until=41.0)

    assert level["requests_per_s"] <= 1.0
    assert level["requests_per_s"] == pytest.approx(1.0, abs=0.05)
