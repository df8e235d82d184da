"""The load benchmark's figures: steady throughput from the response time law."""

from __future__ import annotations

import pytest

from benchmarks.load import summarise


def closed_loop(
    clients: int, replicas: int, service_s: float, think_s: float, seconds: float, failed: int = -1
) -> list[dict]:
    """Records of ``clients`` sending 150-frame requests back to back to ``replicas``
    FIFO servers of ``service_s`` each, until ``seconds``: the first requests find no
    queue, and the last ones finish after the clients stop (the drain). Request number
    ``failed`` fails after its full time."""
    free_at = [0.0] * replicas
    ready = [0.0] * clients  # when each client sends its next request
    records = []
    while min(ready) < seconds:
        client = ready.index(min(ready))
        start = ready[client]
        server = free_at.index(min(free_at))
        end = max(start, free_at[server]) + service_s
        free_at[server] = end
        ok = len(records) != failed
        records.append({"client": client, "start": start, "end": end, "ok": ok, "frames": 150 if ok else 0,
                        "status": 200 if ok else 500})
        ready[client] = end + think_s
    return records


@pytest.mark.parametrize("clients", [1, 2, 4, 16])
def test_steady_rate_is_what_the_replicas_deliver(clients: int) -> None:
    records = closed_loop(clients, replicas=2, service_s=3.0, think_s=0.01, seconds=40)

    level = summarise(records, clients, replicas=[2])

    # Saturated (2+ clients): 2 replicas x one request per 3 s. One client keeps one
    # replica busy, less its think time.
    requests_per_s = 2 / 3 if clients >= 2 else 1 / 3.01
    assert level["requests_per_s"] == pytest.approx(requests_per_s, rel=0.01)
    assert level["frames_per_s"] == pytest.approx(requests_per_s * 150, rel=0.01)
    assert level["think_s"] == pytest.approx(0.01)


def test_a_failed_request_is_a_cycle_without_frames() -> None:
    records = closed_loop(2, replicas=2, service_s=3.0, think_s=0.0, seconds=40, failed=5)

    level = summarise(records, 2, replicas=[2])

    assert level["errors"] == 1
    assert level["requests_per_s"] == pytest.approx(2 / 3, rel=0.01)
    steady = level["steady_requests"]
    assert level["frames_per_s"] == pytest.approx(2 / 3 * 150 * (steady - 1) / steady, rel=0.01)
