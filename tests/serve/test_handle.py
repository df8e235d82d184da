"""The Python handle API, called from a separate driver process connected to the cluster."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from testbed.cluster import ROOT, ServeCluster

DRIVER = """
import json, sys
import ray
from ray import serve

ray.init(address="auto", logging_level="ERROR")
video = open(sys.argv[1], "rb").read()
result = serve.get_app_handle("dance").analyze.remote(video, max_people=1, sample_fps=5).result()
# Per-request poses, as a mapping (the HTTP API takes the same as JSON/YAML text).
anyarm = {"any_left_arm": {"priority": 100, "rules": {"arm_elevation_left": [0, 180]}}}
with_poses = serve.get_app_handle("dance").analyze.remote(video, sample_fps=5, poses=anyarm).result()
try:
    serve.get_app_handle("dance").analyze.remote(b"not a video").result()
    error = None
except Exception as exc:  # the posecore error, re-raised here through Ray
    error = getattr(exc, "code", type(exc).__name__)
print(json.dumps({"result": result, "error": error, "posed": list(with_poses["dancers"][0]["summary"])}))
"""


def test_handle_call_matches_http(serve_cluster: ServeCluster, client: httpx.Client, person_video: bytes) -> None:
    video = serve_cluster.temp_dir / "handle.mp4"
    video.write_bytes(person_video)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, str(video)], env=serve_cluster.env, cwd=ROOT,
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["error"] == "not_a_video"
    assert "any_left_arm" in out["posed"] and "any_left_arm" not in out["result"]["dancers"][0]["summary"]
    by_http = client.post("/analyze", files={"video": ("a.mp4", person_video)}, params={"sample_fps": 5}).json()
    assert out["result"]["dancers"] == by_http["dancers"]
    assert out["result"]["video"] == by_http["video"]
