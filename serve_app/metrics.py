"""Custom Serve metrics, exported on Ray's Prometheus endpoint (``ray_`` prefix)."""

from __future__ import annotations

from ray.serve.metrics import Counter, Gauge, Histogram

# Stage latencies span a 1 s clip's upload (ms) to a 10-minute video's segments (minutes).
LATENCY_BOUNDARIES_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]


class AnalyzerMetrics:
    """The ingress's metrics; created inside the replica, where Serve tags them."""

    def __init__(self) -> None:
        self.frames_analyzed = Counter("dance_frames_analyzed", description="Video frames run through the pose model.")
        self.stage_latency = Histogram(
            "dance_stage_latency_s",
            description="Latency of one request's stage: upload, probe, segments, aggregation.",
            boundaries=LATENCY_BOUNDARIES_S,
            tag_keys=("stage",),
        )
        self.segments_in_flight = Gauge(
            "dance_segments_in_flight", description="Segments sent to PoseWorker replicas, not yet back."
        )
        self.rejected = Counter(
            "dance_rejected_requests",
            description="Requests answered with an error, by error code.",
            tag_keys=("code",),
        )

    def observe(self, stage: str, seconds: float) -> None:
        self.stage_latency.observe(seconds, tags={"stage": stage})

    def reject(self, code: str) -> None:
        self.rejected.inc(tags={"code": code})
