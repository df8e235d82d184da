"""The web page at ``/``, used as a person would: in Debian's Chromium, headless, driven
by Playwright, against the real service on its local Ray cluster.

Skips (with the reason) where /usr/bin/chromium is not installed or cannot start
(the ``browser`` fixture, conftest.py); ``make test`` installs it with apt-get when it can.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from posecore.angles import LANDMARK_NAMES
from posecore.overlay import DANCER_COLOURS, SKELETON
from testbed.cluster import ROOT, ServeCluster
from testbed.media import write_video
from testbed.photos import real_photo

ANALYSIS_TIMEOUT_MS = 180_000
DANCER_1, DANCER_2 = "#ff3b30", "#34c759"  # app.js DANCER_COLOURS
LEFT_HIP = 23

# Pixels of the skeleton canvas within a tolerance of a colour.
COUNT_PIXELS = """(hex) => {
  const canvas = document.getElementById("skeleton");
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] > 200 && Math.abs(data[i] - r) < 40 && Math.abs(data[i + 1] - g) < 40
        && Math.abs(data[i + 2] - b) < 40) count += 1;
  }
  return count;
}"""
# Opacity of the canvas pixel at normalised (x, y).
ALPHA_AT = """([x, y]) => {
  const canvas = document.getElementById("skeleton");
  const pixel = canvas.getContext("2d").getImageData(Math.round(x * canvas.width), Math.round(y * canvas.height), 1, 1);
  return pixel.data[3];
}"""
SEEK = """(t) => new Promise((resolve) => {
  const video = document.getElementById("video");
  video.addEventListener("seeked", () => resolve(video.currentTime), { once: true });
  video.currentTime = t;
})"""
DOWNLOAD = "async (id) => (await fetch(document.getElementById(id).href)).text()"
# Timeline bars sticking out of their lane.
BARS_OUTSIDE = """() => [...document.querySelectorAll(".bar")].filter((bar) => {
  const lane = bar.parentElement.getBoundingClientRect();
  const box = bar.getBoundingClientRect();
  return box.left < lane.left - 1 || box.right > lane.right + 1;
}).length"""


@pytest.fixture
def page(browser: Any, serve_cluster: ServeCluster) -> Iterator[Any]:
    """A fresh tab on the page; fails the test on any script error or off-site request."""
    tab = browser.new_page(viewport={"width": 1100, "height": 1000})
    errors: list[str] = []
    requests: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("request", lambda request: requests.append(request.url))
    tab.goto(serve_cluster.url + "/")
    yield tab
    tab.close()
    assert not errors, errors
    off_site = [url for url in requests if not url.startswith((serve_cluster.url, "blob:", "data:"))]
    assert not off_site, off_site


def js_array(script: str, name: str) -> str:
    """The text of ``const NAME = [...];`` in ``script``."""
    match = re.search(rf"const {name} = \[(.*?)\];", script, re.S)
    assert match, name
    return match.group(1)


def test_page_script_agrees_with_posecore() -> None:
    """The page draws what the CLI's overlay draws: same landmarks, bones and dancer colours."""
    script = (ROOT / "serve_app" / "page" / "app.js").read_text()
    assert tuple(re.findall(r'"(\w+)"', js_array(script, "LANDMARK_NAMES"))) == LANDMARK_NAMES
    bones = re.findall(r"\[(\d+), (\d+)\]", js_array(script, "SKELETON"))
    assert tuple((int(a), int(b)) for a, b in bones) == SKELETON
    colours = re.findall(r'"#(\w{6})"', js_array(script, "DANCER_COLOURS"))
    assert [tuple(bytes.fromhex(c)) for c in colours] == list(DANCER_COLOURS)


def test_page_files_are_served_by_the_app(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
    assert sorted(assets) == ["/page/app.js", "/page/style.css"]
    for asset, kind in (("/page/app.js", "text/javascript"), ("/page/style.css", "text/css")):
        response = client.get(asset)
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
        assert "http://" not in response.text and "https://" not in response.text  # nothing from elsewhere
    missing = client.get("/page/ingress.py")  # only the page's own files
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_analyse_a_video_in_the_browser(page: Any, person_video: bytes, tmp_path: Path) -> None:
    video = tmp_path / "dance.mp4"
    video.write_bytes(person_video)
    page.set_input_files("#video-input", video)
    page.click("#analyse-button")
    page.wait_for_selector("#results:not([hidden])", timeout=ANALYSIS_TIMEOUT_MS)
    assert page.eval_on_selector("#upload-progress", "p => p.value") == 1
    assert page.eval_on_selector("#analysis-progress", "p => p.value") == 1
    page.wait_for_function("document.getElementById('video').readyState >= 2")

    # The downloads hold the result as the service returned it (with landmarks).
    result = json.loads(page.evaluate(DOWNLOAD, "download-json"))
    assert result["analysis"]["frames_analyzed"] == 30 and len(result["frames"]) == 30

    # Timeline: one lane for the one dancer, one bar per pose segment.
    assert page.locator(".lane").count() == len(result["dancers"]) == 1
    segments = [s for s in result["dancers"][0]["poses"] if s["name"] not in ("jump", "turn")]
    bars = page.locator(".bar.pose")
    assert bars.count() == len(segments) >= 1
    assert [bars.nth(i).get_attribute("data-pose") for i in range(bars.count())] == [s["name"] for s in segments]
    assert page.evaluate(BARS_OUTSIDE) == 0
    assert bars.first.evaluate("bar => getComputedStyle(bar).color") == "rgb(17, 17, 17)"  # dark on light

    # The skeleton of dancer 1, drawn at a frame where they were detected, where their landmarks are.
    frame = [f for f in result["frames"] if f["people"]][len(result["frames"]) // 2]
    page.evaluate(SEEK, frame["t_s"])
    page.wait_for_function("i => document.getElementById('skeleton').dataset.frame === String(i)", arg=frame["index"])
    assert page.evaluate(COUNT_PIXELS, DANCER_1) > 200
    x, y, _, visibility = frame["people"][0]["landmarks"][LEFT_HIP]
    assert visibility > 0.5 and page.evaluate(ALPHA_AT, [x, y]) > 200

    # In sync with playback: after playing a while, the frame drawn is the one nearest the video's time.
    page.evaluate("async () => { const v = document.getElementById('video'); v.muted = true; await v.play(); }")
    page.wait_for_timeout(600)
    now = page.evaluate("() => { const v = document.getElementById('video'); v.pause(); return v.currentTime; }")
    nearest = min(result["frames"], key=lambda f: abs(f["t_s"] - now))
    page.wait_for_function("i => document.getElementById('skeleton').dataset.frame === String(i)", arg=nearest["index"])

    # Hover shows the pose and its times; clicking a bar (or Enter on it) seeks to its start.
    bar = bars.first
    bar.hover()
    assert segments[0]["name"] in page.inner_text("#tooltip") and page.is_visible("#tooltip")
    start = float(bar.get_attribute("data-start"))
    for activate in (bar.click, lambda: (bar.focus(), page.keyboard.press("Enter"))):
        page.evaluate(SEEK, result["video"]["duration_s"] - 0.1)
        activate()
        page.wait_for_function(
            "s => Math.abs(document.getElementById('video').currentTime - s) < 0.02", arg=start
        )

    # Summary table and per-frame CSV.
    summary = result["dancers"][0]["summary"]
    assert page.locator("#summary tbody tr").count() == len(summary)
    first_row = page.locator("#summary tbody tr").first.inner_text()
    name, entry = next(iter(summary.items()))
    assert name in first_row and f"{entry['total_s']:.2f} s" in first_row
    csv = page.evaluate(DOWNLOAD, "download-csv").splitlines()
    header = csv[0].split(",")
    assert header[:4] == ["frame", "t_s", "dancer", "pose"]
    assert {"nose_x", "right_foot_index_visibility", "knee_left", "torso_lean"} <= set(header)
    assert len(csv) - 1 == sum(len(f["people"]) for f in result["frames"])
    assert all(len(line.split(",")) == len(header) for line in csv[1:])

    page.evaluate(SEEK, frame["t_s"])
    page.screenshot(path=tmp_path / "page.png", full_page=True)
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_page_explains_api_errors(page: Any, person_video: bytes, tmp_path: Path) -> None:
    notes = tmp_path / "notes.mp4"
    notes.write_bytes(b"these are my dance notes, not a video\n" * 50)
    page.set_input_files("#video-input", notes)
    page.click("#analyse-button")
    page.wait_for_selector("#error[data-code='not_a_video']", timeout=ANALYSIS_TIMEOUT_MS)
    assert "not a video the service can read" in page.inner_text("#error")

    video, poses = tmp_path / "dance.mp4", tmp_path / "poses.yaml"
    video.write_bytes(person_video)
    poses.write_text("arms_up: {colour: red}\n")
    page.set_input_files("#video-input", video)
    page.set_input_files("#poses-input", poses)
    page.click("#analyse-button")
    page.wait_for_selector("#error[data-code='invalid_pose_library']", timeout=ANALYSIS_TIMEOUT_MS)
    text = page.inner_text("#error")
    assert "The pose file is not valid." in text and "colour" in text  # the server's detail, too
    assert page.is_hidden("#results")
    page.screenshot(path=tmp_path / "error.png", full_page=True)


def test_two_dancers_get_their_own_lane_and_colour(page: Any, tmp_path: Path) -> None:
    """The man from bus.jpg beside his mirror image: two skeletons, two colours, two lanes."""
    bus = real_photo("bus.jpg")
    frames = []
    for i in range(20):
        man = bus[330:930, 10 + 2 * i : 250 + 2 * i]
        frames.append(np.hstack([man, man[:, ::-1]]))
    video = write_video(tmp_path / "pair.mp4", frames, fps=15)
    page.set_input_files("#video-input", video)
    page.fill("#max-people", "2")
    page.fill("#sample-fps", "5")
    page.click("#analyse-button")
    page.wait_for_selector("#results:not([hidden])", timeout=ANALYSIS_TIMEOUT_MS)
    page.wait_for_function("document.getElementById('video').readyState >= 2")
    result = json.loads(page.evaluate(DOWNLOAD, "download-json"))
    assert result["analysis"]["frames_analyzed"] == 7  # 0, 0.2, ... 1.2 s of a 1.33 s clip
    assert [d["id"] for d in result["dancers"]] == [1, 2]
    assert page.locator(".lane").count() == 2
    assert page.locator(".lane").nth(1).get_attribute("aria-label") == "Dancer 2"
    assert page.evaluate(BARS_OUTSIDE) == 0  # the last segment ends a sampling step after 1.2 s
    frame = next(f for f in result["frames"] if len(f["people"]) == 2)
    page.evaluate(SEEK, frame["t_s"])
    page.wait_for_function("i => document.getElementById('skeleton').dataset.frame === String(i)", arg=frame["index"])
    assert page.evaluate(COUNT_PIXELS, DANCER_1) > 200 and page.evaluate(COUNT_PIXELS, DANCER_2) > 200
    page.screenshot(path=tmp_path / "pair.png", full_page=True)
