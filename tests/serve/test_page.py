"""The web page at ``/``, used as a person would: in Debian's Chromium, headless, driven
by Playwright, against the real service on its local Ray cluster.

Skips (with the reason) where /usr/bin/chromium is not installed or cannot start
(the ``browser`` fixture, conftest.py); ``make test`` installs it with apt-get when it can.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from posecore.angles import LANDMARK_NAMES
from posecore.overlay import DANCER_COLOURS, SKELETON
from testbed.cluster import ROOT, ServeCluster
from testbed.media import AudioTrack, write_video
from testbed.photos import real_photo

ANALYSIS_TIMEOUT_MS = 180_000
DANCER_HEX = ["#" + bytes(colour).hex() for colour in DANCER_COLOURS]  # as app.js's (test_page_script_agrees...)
DANCER_1 = DANCER_HEX[0]
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
# A function, not an expression: Playwright polls an expression with eval, which the page's CSP forbids.
VIDEO_READY = "() => document.getElementById('video').readyState >= 2"
SEEK = """(t) => new Promise((resolve) => {
  const video = document.getElementById("video");
  video.addEventListener("seeked", () => resolve(video.currentTime), { once: true });
  video.currentTime = t;
})"""
DOWNLOAD = "async (id) => (await fetch(document.getElementById(id).href)).text()"
# Horizontal extent (left, width) of an element on screen.
EXTENT = "(element) => { const box = element.getBoundingClientRect(); return [box.left, box.width]; }"
# Where a beat tick sits across the lane it is drawn over: 0 at the track's left, 1 at its right.
TICK_POSITIONS = """() => {
  const track = document.querySelector(".lane .track").getBoundingClientRect();
  return [...document.querySelectorAll(".beat-tick")].map((tick) => {
    const box = tick.getBoundingClientRect();
    return (box.left - track.left - 1) / (track.width - 2);  // inside the track's 1px borders
  });
}"""
# Timeline bars sticking out of their lane.
BARS_OUTSIDE = """() => [...document.querySelectorAll(".bar")].filter((bar) => {
  const lane = bar.parentElement.getBoundingClientRect();
  const box = bar.getBoundingClientRect();
  return box.left < lane.left - 1 || box.right > lane.right + 1;
}).length"""
# The Compare tab: both videos ready to show a frame.
DUET_READY = "() => ['reference-video', 'performance-video'].every((id) => document.getElementById(id).readyState >= 2)"
# Each limb bar's filled share of its track.
LIMB_FILLS = """() => [...document.querySelectorAll("#limb-bars .limb")].map((row) => [row.dataset.limb,
  row.querySelector(".meter-fill").getBoundingClientRect().width
    / row.querySelector(".meter").getBoundingClientRect().width])"""
# Both videos' positions at one instant: [performance, reference].
DUET_TIMES = "() => ['performance-video', 'reference-video'].map((id) => document.getElementById(id).currentTime)"
AT_MOMENT = """([t, r]) => {
  const [p, q] = ["performance-video", "reference-video"].map((id) => document.getElementById(id).currentTime);
  return Math.abs(p - t) < 0.1 && Math.abs(q - r) < 0.2;
}"""
PLAY_PERFORMANCE = """async () => {
  const video = document.getElementById("performance-video");
  video.muted = true;
  video.currentTime = 0;
  await video.play();
}"""


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
    assert sorted(assets) == ["/page/app.js", "/page/compare.js", "/page/style.css"]
    for asset, kind in (("/page/app.js", "text/javascript"), ("/page/compare.js", "text/javascript"),
                        ("/page/style.css", "text/css")):
        response = client.get(asset)
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
        text = response.text.replace('"http://www.w3.org/2000/svg"', "")  # SVG's namespace: a name, never fetched
        assert "http://" not in text and "https://" not in text  # nothing from elsewhere
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
    page.wait_for_function(VIDEO_READY)

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
        page.wait_for_function("s => Math.abs(document.getElementById('video').currentTime - s) < 0.02", arg=start)

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


def stepping_dancer_with_clicks(path: Path, seconds: float = 4.0, bpm: float = 120.0) -> Path:
    """The man from bus.jpg stepping sideways and stopping on each beat of a kick-drum click track.

    15 fps; each beat period he moves 80 px in its first half and holds in its second, so
    his hits (sharp stops) fall on the beats and are one recurring key pose.
    """
    fps, rate, period = 15, 48_000, 60.0 / bpm
    photo = real_photo("bus.jpg")
    frames = []
    for i in range(round(seconds * fps)):
        beat, phase = divmod(i / fps, period)
        start, end = (0, 80) if int(beat) % 2 == 0 else (80, 0)
        x = round(start + (end - start) * min(1.0, 2 * phase / period))
        frames.append(photo[100:900, 10 + x : 490 + x])
    samples = np.random.default_rng(0).normal(0.0, 0.01, round(seconds * rate))
    t = np.arange(round(0.1 * rate)) / rate
    kick = 0.8 * np.sin(2 * np.pi * (60 + 120 * np.exp(-t * 40)) * t) * np.exp(-t * 30)  # pitch drops like a kick
    for beat_s in np.arange(period / 2 + 0.05, seconds - 0.1, period):  # the stops: half a period in, + a frame
        i = round(beat_s * rate)
        samples[i : i + len(kick)] += kick[: len(samples) - i]
    return write_video(path, frames, fps=fps, audio_track=AudioTrack(samples.astype(np.float32), rate))


def analyse(page: Any, video: Path, **fields: str) -> dict[str, Any]:
    """Submit ``video`` with the form ``fields`` (input id -> value); the result the page received."""
    page.set_input_files("#video-input", video)
    for field, value in fields.items():
        if page.locator(f"#{field}").evaluate("e => e.tagName") == "SELECT":
            page.select_option(f"#{field}", value)
        else:
            page.fill(f"#{field}", value)
    page.click("#analyse-button")
    page.wait_for_selector("#results:not([hidden])", timeout=ANALYSIS_TIMEOUT_MS)
    page.wait_for_function(VIDEO_READY)
    result: dict[str, Any] = json.loads(page.evaluate(DOWNLOAD, "download-json"))
    return result


def test_beats_key_poses_energy_and_timing_in_the_browser(page: Any, tmp_path: Path) -> None:
    """A dancer hitting the beats of a 120 BPM click track: ticks, key-pose cards, energy curve, on-beat figure."""
    result = analyse(page, stepping_dancer_with_clicks(tmp_path / "beats.mp4"))
    music, duration = result["music"], result["video"]["duration_s"]
    assert music is not None and music["tempo_bpm"] == pytest.approx(120, abs=1.5)

    # Tempo in words; a tick for each beat, where the beat is on the lane's time axis.
    assert f"{round(music['tempo_bpm'])} BPM" in page.inner_text("#music-info")
    assert page.locator(".beat-tick").count() == len(music["beats_s"]) >= 6
    positions = page.evaluate(TICK_POSITIONS)
    assert positions == pytest.approx([t / duration for t in music["beats_s"]], abs=0.005)

    # Key-pose cards: picture, name (or "shape N"), count; each click seeks to the next occurrence.
    (dancer,) = result["dancers"]
    key_poses = dancer["key_poses"]
    cards = page.locator(".key-pose")
    assert cards.count() == len(key_poses) >= 1
    pose, card = key_poses[0], cards.first
    assert pose["thumbnail"].startswith("data:image/jpeg;base64,")  # the page asked for thumbnails
    assert card.locator("img").evaluate("img => img.complete && img.naturalWidth") > 0
    assert (pose["name"] or f"shape {pose['id']}") in card.inner_text()
    assert f"{len(pose['occurrences'])} times" in card.inner_text()
    for occurrence in pose["occurrences"][:2]:
        card.click()
        page.wait_for_function(
            "s => Math.abs(document.getElementById('video').currentTime - s) < 0.1", arg=occurrence["start_s"]
        )

    # The energy curve: a vertex per second of the metrics' timeline, spanning the lane's time axis.
    timeline = dancer["metrics"]["timeline"]
    curve = page.locator("svg.energy")
    assert curve.count() == 1
    vertices = curve.evaluate("svg => [...svg.querySelectorAll('polyline')].reduce((n, l) => n + l.points.length, 0)")
    assert vertices == len(timeline) == 4
    assert curve.evaluate(EXTENT) == pytest.approx(page.locator(".lane .track").evaluate(EXTENT), abs=2)

    # The on-beat figure and the movement table.
    on_beat = dancer["metrics"]["on_beat"]
    assert on_beat["hits"] >= 5 and on_beat["share"] >= 0.8
    row = page.locator("#metrics tbody tr").first.inner_text()
    js_round = lambda x: int(x + 0.5)  # noqa: E731 (Math.round, not Python's round half to even)
    assert f"{js_round(on_beat['share'] * 100)}% on the beat" in row
    assert f"{js_round(abs(on_beat['mean_offset_s']) * 1000)} ms" in row
    assert f"{dancer['metrics']['energy']:.2f}" in row
    titles = page.locator("#metrics th[title]")
    assert titles.count() == 5 and "SPARC" in titles.nth(2).get_attribute("title")

    page.evaluate(SEEK, pose["occurrences"][0]["start_s"])
    page.screenshot(path=tmp_path / "beats.png", full_page=True)


def assert_every_dancer_drawn(page: Any, result: dict[str, Any], at_least: int) -> None:
    """On the frame with the most dancers (at least ``at_least``): each one's skeleton, in their own colour."""
    frame = max(result["frames"], key=lambda f: len(f["people"]))
    assert len(frame["people"]) >= at_least
    page.evaluate(SEEK, frame["t_s"])
    page.wait_for_function("i => document.getElementById('skeleton').dataset.frame === String(i)", arg=frame["index"])
    for person in frame["people"]:
        assert page.evaluate(COUNT_PIXELS, DANCER_HEX[person["id"] - 1]) > 200, person["id"]


def test_every_dancer_of_a_group_is_drawn(page: Any, tmp_path: Path) -> None:
    """The man from bus.jpg three times side by side (mirrored in the middle), no sound: a skeleton in each
    dancer's colour, a lane and an energy curve per dancer, no beats."""
    bus = real_photo("bus.jpg")
    frames = []
    for i in range(20):
        man = bus[330:930, 10 + 2 * i : 250 + 2 * i]
        frames.append(np.hstack([man, man[:, ::-1], man]))
    video = write_video(tmp_path / "group.mp4", frames, fps=15)
    result = analyse(page, video, **{"max-people": "3", "sample-fps": "5"})
    assert result["analysis"]["frames_analyzed"] == 7  # 0, 0.2, ... 1.2 s of a 1.33 s clip
    ids = [d["id"] for d in result["dancers"]]
    assert len(ids) >= 2 and ids == sorted(ids)
    assert page.locator(".lane").count() == len(ids)
    assert [page.locator(".lane").nth(i).get_attribute("aria-label") for i in range(len(ids))] == [
        f"Dancer {i}" for i in ids
    ]
    assert page.evaluate(BARS_OUTSIDE) == 0  # the last segment ends a sampling step after 1.2 s

    assert_every_dancer_drawn(page, result, at_least=2)

    # No music: no ticks, said in words; a curve, a key-pose group and a table row per dancer all the same.
    assert result["music"] is None
    assert page.locator(".beat-tick").count() == 0
    assert "no beat found" in page.inner_text("#music-info")
    assert page.locator("svg.energy").count() == page.locator(".key-pose-group").count() == len(ids)
    assert page.locator(".key-pose").count() == sum(len(d["key_poses"]) for d in result["dancers"])
    rows = page.locator("#metrics tbody tr")
    assert rows.count() == len(ids) and all("no beat found" in rows.nth(i).inner_text() for i in range(len(ids)))
    page.screenshot(path=tmp_path / "group.png", full_page=True)


def test_every_dancer_of_the_real_group_video_is_drawn(page: Any, shared_video: Path) -> None:
    """group_dance.mp4 (4 dancers) with max_people auto: on the frame where most are found,
    every one of them is drawn in their own colour, and each has a lane."""
    result = analyse(page, shared_video, **{"max-people": "auto", "sample-fps": "3"})
    ids = [d["id"] for d in result["dancers"]]
    assert 3 <= len(ids) <= 6 and page.locator(".lane").count() == len(ids)
    assert_every_dancer_drawn(page, result, at_least=3)


def swaying_dancer(frames: int = 36) -> list[np.ndarray]:
    """The man in the coat from bus.jpg, alone, leaning steadily from 25° left to 25° right (15 fps: 2.4 s).

    Alone, so mirroring cannot swap him for his neighbour; leaning, so every moment's pose is
    its own and the alignment has one answer.
    """
    man = cv2.copyMakeBorder(real_photo("bus.jpg")[300:940, 25:225], 0, 0, 100, 100, cv2.BORDER_REPLICATE)
    height, width = man.shape[:2]
    images = []
    for i in range(frames):
        turn = cv2.getRotationMatrix2D((width / 2, height * 0.6), -25 + 50 * i / (frames - 1), 1.0)
        images.append(cv2.warpAffine(man, turn, (width, height), borderMode=cv2.BORDER_REPLICATE))
    return images


def compare_in_page(page: Any, reference: Path, performance: Path) -> dict[str, Any]:
    """Compare ``performance`` with ``reference`` on the Compare tab; the comparison the page received."""
    page.click("#tab-compare")
    page.set_input_files("#reference-input", reference)
    page.set_input_files("#performance-input", performance)
    page.click("#compare-button")
    page.wait_for_selector("#comparison:not([hidden])", timeout=ANALYSIS_TIMEOUT_MS)
    page.wait_for_function(DUET_READY)
    assert page.eval_on_selector("#compare-upload-progress", "p => p.value") == 1
    result: dict[str, Any] = json.loads(page.evaluate(DOWNLOAD, "download-comparison"))
    return result



def matched_reference_time(result: dict[str, Any], t: float) -> float:
    """The reference moment the alignment matches to performance time ``t`` (between its matched points)."""
    points = sorted({p["t_s"]: p["reference_t_s"] for p in result["timeline"] + result["worst_moments"]
                     if p["reference_t_s"] is not None}.items())
    return float(np.interp(t, [p[0] for p in points], [p[1] for p in points]))


def check_comparison_shown(page: Any, result: dict[str, Any]) -> None:
    """Big score, a bar per limb, the score timeline; a worst moment seeks both videos; play keeps them in step."""
    assert result["score"] >= 95
    assert int(page.inner_text("#compare-score")) == math.floor(result["score"] + 0.5) >= 95  # JS rounds .5 up
    assert int(page.inner_text("#compare-timing")) == math.floor(result["timing"] + 0.5)

    fills = dict(page.evaluate(LIMB_FILLS))
    assert list(fills) == ["left_arm", "right_arm", "left_leg", "right_leg", "torso", "head"]
    assert fills == pytest.approx({limb: score / 100 for limb, score in result["limbs"].items()}, abs=0.02)

    scored = [p for p in result["timeline"] if p["score"] is not None]
    vertices = page.eval_on_selector("svg.score-plot", "svg => [...svg.querySelectorAll('polyline')]"
                                                        ".reduce((n, l) => n + l.points.length, 0)")
    assert vertices == len(scored) >= 3

    moments = page.locator("#worst-moments .moment")
    assert moments.count() == len(result["worst_moments"]) >= 1
    for i, moment in enumerate(result["worst_moments"]):
        moments.nth(i).click()
        page.wait_for_function(AT_MOMENT, arg=[moment["t_s"], moment["reference_t_s"]])

    page.evaluate(PLAY_PERFORMANCE)
    page.wait_for_timeout(1000)
    performance_t, reference_t = page.evaluate(DUET_TIMES)
    page.evaluate("() => document.getElementById('performance-video').pause()")
    assert performance_t > 0.5  # it played
    assert abs(reference_t - matched_reference_time(result, performance_t)) < 0.3


def test_compare_a_dance_with_itself_in_the_browser(page: Any, tmp_path: Path) -> None:
    video = write_video(tmp_path / "dance.mp4", swaying_dancer(), fps=15)
    result = compare_in_page(page, video, video)
    assert not result["mirrored"] and abs(result["offset_s"]) < 0.1
    facts = page.inner_text("#compare-facts")
    assert "in step with the routine" in facts and "Mirrored: no" in facts
    check_comparison_shown(page, result)


def test_compare_a_mirrored_late_start_in_the_browser(page: Any, tmp_path: Path) -> None:
    """The same dance mirrored and starting 0.6 s into it: scored mirrored, the reference kept 0.6 s ahead.
    First a performance that is no video: the error in words, naming the part."""
    frames = swaying_dancer()
    reference = write_video(tmp_path / "teacher.mp4", frames, fps=15)
    notes = tmp_path / "student.mp4"
    notes.write_bytes(b"not a video\n" * 100)
    page.click("#tab-compare")
    page.set_input_files("#reference-input", reference)
    page.set_input_files("#performance-input", notes)
    page.click("#compare-button")
    page.wait_for_selector("#compare-error[data-code='not_a_video']", timeout=ANALYSIS_TIMEOUT_MS)
    assert "performance" in page.inner_text("#compare-error") and page.is_hidden("#comparison")

    student = write_video(tmp_path / "student.mp4", [np.ascontiguousarray(f[:, ::-1]) for f in frames[9:]], fps=15)
    result = compare_in_page(page, reference, student)
    assert result["mirrored"] and result["offset_s"] == pytest.approx(0.6, abs=0.1)
    facts = page.inner_text("#compare-facts")
    assert f"started {result['offset_s']:.1f} s into the routine" in facts and "Mirrored: yes" in facts
    assert page.is_checked("#flip-reference")
    check_comparison_shown(page, result)
    page.locator("#worst-moments .moment").first.click()
    page.screenshot(path=tmp_path / "compare.png", full_page=True)
