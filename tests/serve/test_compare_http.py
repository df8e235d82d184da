"""POST /compare and the handle's ``compare``, on the session's cluster.

The real-video cases (optional: they skip without ../shared) use 6 s of same_routine_a
and copies of it made here: cut 1.5 s in, mirrored, slowed to 0.8x, each analysed at
15 frames/s. The error cases use tiny generated clips.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from posecore.video import iter_frames, probe
from testbed.cluster import ROOT, ServeCluster
from testbed.media import pattern_frames, write_video

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CLIP_S = 6.0
SAMPLE_FPS = 15
FIELDS = ["schema_version", "score", "timing", "offset_s", "tempo_ratio", "limbs", "timeline", "worst_moments",
          "mirrored", "reference", "performance", "reference_dancer", "performance_dancer"]


def compare(client: httpx.Client, reference: bytes | str, performance: bytes, **params: object) -> httpx.Response:
    """POST /compare: ``reference`` is a video's bytes, or (str) the JSON of an earlier result."""
    files = {"performance": ("perf.mp4", performance, "video/mp4")}
    data = {}
    if isinstance(reference, str):
        data["reference_result"] = reference
    else:
        files["reference"] = ("ref.mp4", reference, "video/mp4")
    return client.post("/compare", files=files, data=data, params=params)


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    return response.status_code, body["error"]["code"], body["error"]["message"]


@pytest.fixture(scope="module")
def routine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """6 s of same_routine_a re-encoded, and copies: cut from 1.5 s, mirrored, slowed to 0.8x."""
    source = SHARED_DATA / "same_routine_a.mp4"
    if not source.is_file():
        pytest.skip(f"optional real video not present: {source}")
    info = probe(source)
    frames = [f for f in iter_frames(source, info) if f.t_s < CLIP_S]
    times = [f.t_s - frames[0].t_s for f in frames]
    images = [f.image for f in frames]
    out = tmp_path_factory.mktemp("routine")
    first_cut = next(i for i, t in enumerate(times) if t >= 1.5)
    clips = {
        "clip": write_video(out / "clip.mp4", images, fps=info.fps),
        "cut": write_video(out / "cut.mp4", images[first_cut:], fps=info.fps),
        "mirrored": write_video(out / "mirrored.mp4", [np.ascontiguousarray(i[:, ::-1]) for i in images], fps=info.fps),
        "slowed": write_video(out / "slowed.mp4", images, fps=info.fps * 0.8, times_s=[t * 1.25 for t in times]),
    }
    return {name: path.read_bytes() for name, path in clips.items()}


def test_a_clip_against_itself(client: httpx.Client, routine: dict[str, bytes]) -> None:
    response = compare(client, routine["clip"], routine["clip"], sample_fps=SAMPLE_FPS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == FIELDS
    assert body["score"] >= 98 and abs(body["offset_s"]) <= 0.05 and not body["mirrored"]
    assert body["tempo_ratio"] == pytest.approx(1.0, abs=0.02)
    assert body["reference"] == body["performance"] and body["reference"]["duration_s"] == pytest.approx(CLIP_S, 0.05)


def test_cut_mirrored_and_slowed_copies_against_an_earlier_result(
    client: httpx.Client, routine: dict[str, bytes]
) -> None:
    analysed = client.post("/analyze", files={"video": ("clip.mp4", routine["clip"])},
                           data={"include_landmarks": "true", "sample_fps": str(SAMPLE_FPS)})
    assert analysed.status_code == 200
    teacher = analysed.text  # stored by an app, sent back with each comparison
    results = {name: compare(client, teacher, routine[name], sample_fps=SAMPLE_FPS).json()
               for name in ("cut", "mirrored", "slowed")}
    print(json.dumps({n: {k: r[k] for k in ("score", "offset_s", "tempo_ratio", "mirrored")}
                      for n, r in results.items()}))
    cut, mirrored, slowed = results["cut"], results["mirrored"], results["slowed"]
    assert cut["offset_s"] == pytest.approx(1.5, abs=0.05) and cut["score"] >= 95
    assert mirrored["mirrored"] and mirrored["score"] >= 95 and abs(mirrored["offset_s"]) <= 0.05
    assert slowed["tempo_ratio"] == pytest.approx(0.8, rel=0.05) and slowed["score"] >= 95
    assert slowed["performance"]["duration_s"] == pytest.approx(CLIP_S * 1.25, abs=0.1)


@pytest.fixture(scope="module")
def no_person(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """1 s of a test pattern: a valid video without anybody in it."""
    return write_video(tmp_path_factory.mktemp("empty") / "p.mp4", pattern_frames(10, 64, 48), fps=10).read_bytes()


def test_bad_requests_get_their_error(client: httpx.Client, person_video: bytes, no_person: bytes) -> None:
    plain = client.post("/analyze", files={"video": ("a.mp4", person_video)}, params={"sample_fps": 5}).text
    video = ("a.mp4", person_video, "video/mp4")
    fast = {"sample_fps": 5}
    cases = {
        "no frames in the result": (compare(client, plain, person_video), 422, "invalid_reference_result", "frames"),
        "result not JSON": (compare(client, "{oops", person_video), 422, "invalid_reference_result", "not JSON"),
        "neither reference": (client.post("/compare", files={"performance": video}), 400, "missing_reference", ""),
        "both references": (client.post("/compare", files={"performance": video, "reference": video},
                                        data={"reference_result": plain}), 400, "two_references", ""),
        "no performance": (client.post("/compare", files={"reference": video}), 400, "missing_performance", ""),
        "bad mirror": (compare(client, person_video, person_video, mirror="sometimes"), 422, "invalid_options",
                       "mirror"),
        "bad fps": (compare(client, person_video, person_video, sample_fps=-1), 422, "invalid_options", "sample_fps"),
        "reference not a video": (compare(client, b"hello", person_video, **fast), 415, "not_a_video", "reference: "),
        "performance not a video": (compare(client, person_video, b"hello" * 100, **fast), 415, "not_a_video",
                                    "performance: "),
        "nobody in the performance": (compare(client, person_video, no_person, **fast), 422, "no_dancer",
                                      "performance: "),
        "unknown dancer": (compare(client, person_video, person_video, reference_dancer=9, **fast), 422,
                           "unknown_dancer", "reference: no dancer 9"),
    }
    for name, (response, status, code, words) in cases.items():
        got_status, got_code, message = error_of(response)
        assert (got_status, got_code) == (status, code), (name, message)
        assert words in message, (name, message)


def test_openapi_documents_compare(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    post = schema["paths"]["/compare"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/ComparisonResult")
    assert set(FIELDS) <= set(schema["components"]["schemas"]["ComparisonResult"]["properties"])


DRIVER = """
import json, sys
import ray
from ray import serve

ray.init(address="auto", logging_level="ERROR")
video = open(sys.argv[1], "rb").read()
dance = serve.get_app_handle("dance")
teacher = dance.analyze.remote(video, sample_fps=5, include_landmarks=True).result()
by_video = dance.compare.remote(video, video, sample_fps=5).result()
by_result = dance.compare.remote(teacher, video, sample_fps=5, mirror=False).result()
try:
    dance.compare.remote(video, b"not a video").result()
    error = None
except Exception as exc:  # the posecore error, re-raised here through Ray
    error = [getattr(exc, "code", type(exc).__name__), str(getattr(exc, "message", ""))]
print(json.dumps({"by_video": by_video, "by_result": by_result, "error": error}))
"""


def test_handle_compare(serve_cluster: ServeCluster, person_video: bytes) -> None:
    video = serve_cluster.temp_dir / "compare_handle.mp4"
    video.write_bytes(person_video)
    done = subprocess.run([sys.executable, "-c", DRIVER, str(video)], env=serve_cluster.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["error"][0] == "not_a_video" and out["error"][1].startswith("performance: ")
    for result in (out["by_video"], out["by_result"]):
        assert list(result) == FIELDS and result["score"] >= 98 and abs(result["offset_s"]) <= 0.05
