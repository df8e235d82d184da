// The dance analysis page's Analyse tab (and the tabs): upload a video to POST /analyze/stream,
// show progress from its NDJSON events, then play the video with each dancer's skeleton drawn
// over it, a timeline of poses per dancer with their energy and the music's beats, each dancer's
// key poses and movement figures, a summary table and downloads. The Compare tab is compare.js,
// which uses this file's shared functions ($, renderError, httpError, formatTime, ...). No
// libraries, no network but this app.
"use strict";

// MediaPipe BlazePose's 33 landmarks, in the result's order (posecore/angles.py LANDMARK_NAMES).
const LANDMARK_NAMES = [
  "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
  "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
  "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
  "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
  "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
  "left_heel", "right_heel", "left_foot_index", "right_foot_index",
];

// BlazePose's skeleton: pairs of landmark indices joined by a bone.
const SKELETON = [
  [0, 1], [1, 2], [2, 3], [3, 7], [0, 4], [4, 5], [5, 6], [6, 8], [9, 10],
  [11, 12], [11, 13], [13, 15], [15, 17], [15, 19], [15, 21], [17, 19],
  [12, 14], [14, 16], [16, 18], [16, 20], [16, 22], [18, 20],
  [11, 23], [12, 24], [23, 24], [23, 25], [24, 26], [25, 27], [26, 28],
  [27, 29], [28, 30], [29, 31], [30, 32], [27, 31], [28, 32],
];

// One colour per dancer id (the CLI's --overlay uses the same, posecore/overlay.py).
const DANCER_COLOURS = [
  "#ff3b30", "#34c759", "#2f7bff", "#ff9f0a", "#bf5af2", "#00c7e6", "#ffd60a", "#ff6ac1", "#ac8e68", "#ffffff",
];
// Pose bars: light colours, so their dark labels keep a high contrast.
const POSE_COLOURS = [
  "#f4a261", "#8ecae6", "#90be6d", "#f9c74f", "#cdb4db", "#ffafcc",
  "#a8dadc", "#e9c46a", "#b5e48c", "#ffd6a5", "#bde0fe", "#d4a373",
];
const FIXED_POSE_COLOURS = { standing: "#d9d9d9", jump: "#ff8fa3", turn: "#9bf6ff" };
const MOVEMENTS = new Set(["jump", "turn"]); // detected over time; may overlap poses
const MIN_VISIBILITY = 0.5; // as posecore: less visible landmarks are not drawn
const SVG_NS = "http://www.w3.org/2000/svg";
// The energy plots' own coordinates, stretched to their lane (a margin keeps the line off the edges).
const PLOT = { width: 1000, height: 100, top: 8, bottom: 96 };

// The movement table's columns after the dancer's: heading, what it means (the heading's
// title) and the cell's text from the dancer and the result's music.
const METRIC_COLUMNS = [
  {
    label: "On the beat",
    title: "Share of the dancer's hits (sharp stops after a movement) that land on a beat of the music, " +
      "and how far from the nearest beat they land on average.",
    text: onBeatText,
  },
  {
    label: "Energy",
    title: "Mean body speed: how many torso lengths a second the shoulders, elbows, wrists, hips, knees " +
      "and ankles move, on average. Higher is more energetic.",
    text: (metrics) => formatNumber(metrics.energy, 2, ""),
  },
  {
    label: "Smoothness",
    title: "Spectral arc length (SPARC) of the body speed, a standard measure of how smooth a movement is: " +
      "always negative, nearer 0 is smoother (fewer jerks and stops).",
    text: (metrics) => formatNumber(metrics.smoothness, 2, ""),
  },
  {
    label: "Symmetry",
    title: "How evenly the left and right arms and legs move: 100% both sides equally, 0% one side only.",
    text: (metrics) => formatNumber(metrics.symmetry === null ? null : metrics.symmetry * 100, 0, "%"),
  },
  {
    label: "Range of motion",
    title: "How far the elbows, shoulders, knees and hips bend and stretch: the span of each joint's angle " +
      "(5th to 95th percentile), averaged over those joints.",
    text: (metrics) => formatNumber((metrics.range_of_motion || {}).mean, 0, "°"),
  },
];

// What each error code of the API means for the person using the page.
const ERROR_MESSAGES = {
  malformed_request: "The service could not read the request.",
  missing_video: "Choose a video file to analyse.",
  multiple_videos: "Send one video at a time.",
  cors_rejected: "The service does not accept requests from this page's address.",
  unauthorized: "The service needs a valid API key: enter it under Options.",
  rate_limited: "Too many analyses in a short time.",
  empty_upload: "The chosen file is empty.",
  upload_too_large: "The file is larger than the service accepts.",
  video_too_long: "The video is longer than the service accepts; trim it and try again.",
  too_many_pixels: "The video's picture is larger than the service accepts; export it at a lower resolution.",
  not_a_video: "This file is not a video the service can read (mp4, mov, mkv, webm or avi).",
  invalid_video: "The video could not be read.",
  no_video_stream: "The file has no video track.",
  no_frames: "None of the video's frames could be decoded.",
  invalid_options: "An option is not valid.",
  invalid_pose_library: "The pose file is not valid.",
  request_timeout: "The analysis took too long. Try a shorter video or a lower sampling rate.",
  overloaded: "The service is busy.",
  model_unavailable: "The pose model is not available on the server.",
  worker_unavailable: "The service's analysis workers are failing.",
  internal_error: "The server failed unexpectedly while analysing this video.",
  too_many_in_progress: "Too many analyses are running for this key.",
  too_many_frames: "The video has more frames than the service accepts; choose a lower sampling rate.",
  poses_too_large: "The pose file is larger than the service accepts.",
  missing_performance: "Choose the performance video.",
  missing_reference: "Choose the reference video.",
  two_references: "Send one reference, not two.",
  no_dancer: "Nobody was found in one of the videos (the details say which).",
  unknown_dancer: "One of the videos has no dancer with the asked-for id.",
  invalid_reference_result: "The reference result is not an analysis with landmarks.",
  not_comparable: "A dancer is seen too briefly to compare the two dances (the details say which video).",
  not_found: "The page is out of step with the service: reload it.",
  method_not_allowed: "The page is out of step with the service: reload it.",
  network: "The connection to the service failed. If the file is very large, it may be over the upload limit.",
  incomplete: "The connection closed before the analysis finished.",
};

const $ = (id) => document.getElementById(id);

const state = {
  xhr: null, // the request in progress
  result: null,
  frames: [], // result.frames, in time order
  times: [], // their t_s, for the nearest-frame search
  tolerance: 0, // how far from an analysed frame its skeleton is still drawn (s)
  poseColours: new Map(),
  urls: [], // object URLs to revoke when a new result replaces this one
};

document.addEventListener("DOMContentLoaded", () => {
  $("upload-form").addEventListener("submit", onSubmit);
  $("cancel-button").addEventListener("click", () => state.xhr && state.xhr.abort());
  setUpDropZone("drop-zone", "video-input");
  setUpPlayer();
  setUpTabs();
  shareApiKey("api-key", "compare-api-key");
});

// -- Tabs ------------------------------------------------------------------------------

// Analyse and Compare: one panel shown at a time; arrow keys move between the tabs. The
// address's #compare opens on Compare.
function setUpTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const select = (chosen) => {
    tabs.forEach((tab) => {
      const selected = tab === chosen;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      const panel = $(tab.getAttribute("aria-controls"));
      if (!selected) panel.querySelectorAll("video").forEach((video) => video.pause());
      panel.hidden = !selected;
    });
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => {
      select(tab);
      const hash = i ? `#${tab.getAttribute("aria-controls").replace("-view", "")}` : "";
      history.replaceState(null, "", location.pathname + location.search + hash);
    });
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      next.focus();
      next.click();
    });
  });
  if (location.hash === "#compare") select($("tab-compare"));
}

// One API key for both tabs: typing it in either fills the other.
function shareApiKey(...ids) {
  ids.forEach((id) => $(id).addEventListener("input", (event) => {
    ids.forEach((other) => {
      if (other !== id) $(other).value = event.target.value;
    });
  }));
}

// -- Upload and progress ---------------------------------------------------------------

function setUpDropZone(zoneId, inputId) {
  const zone = $(zoneId);
  const input = $(inputId);
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
    }
  });
}

function onSubmit(event) {
  event.preventDefault();
  const video = $("video-input").files[0];
  if (!video) {
    showError("missing_video", "");
    return;
  }
  const form = new FormData();
  form.append("video", video, video.name);
  form.append("max_people", $("max-people").value || "1");
  if ($("sample-fps").value) {
    form.append("sample_fps", $("sample-fps").value);
  }
  form.append("include_landmarks", "true"); // the skeleton and the CSV are drawn from them
  form.append("include_thumbnails", "true"); // the key-pose cards' pictures
  const poses = $("poses-input").files[0];
  if (poses) {
    form.append("poses", poses, poses.name);
  }
  send(form, video, $("api-key").value.trim());
}

// XMLHttpRequest, not fetch: only it reports upload progress. The response is read as
// it arrives: one JSON event a line.
function send(form, video, apiKey) {
  hideError();
  $("results").hidden = true;
  $("progress").hidden = false;
  setProgress("upload-progress", 0);
  setProgress("analysis-progress", 0);
  setStatus("Uploading…");
  setBusy(true);

  const xhr = new XMLHttpRequest();
  state.xhr = xhr;
  let parsed = 0; // characters of responseText already handled
  let finished = false;
  const streaming = () => (xhr.getResponseHeader("Content-Type") || "").includes("application/x-ndjson");
  const readEvents = () => {
    if (!streaming()) return;
    const text = xhr.responseText;
    let end;
    while ((end = text.indexOf("\n", parsed)) >= 0) {
      const line = text.slice(parsed, end);
      parsed = end + 1;
      if (line.trim()) {
        finished = onEvent(JSON.parse(line), video) || finished;
      }
    }
  };

  xhr.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) {
      setProgress("upload-progress", event.loaded / event.total);
      setStatus(`Uploading… ${formatBytes(event.loaded)} of ${formatBytes(event.total)}`);
    }
  });
  xhr.upload.addEventListener("load", () => {
    setProgress("upload-progress", 1);
    setStatus("Uploaded. Reading the video…");
  });
  xhr.addEventListener("progress", readEvents);
  xhr.addEventListener("load", () => {
    readEvents();
    if (!streaming()) {
      showHttpError(xhr);
    } else if (!finished) {
      showError("incomplete", "");
    }
  });
  xhr.addEventListener("error", () => showError("network", ""));
  xhr.addEventListener("abort", () => setStatus("Cancelled."));
  xhr.addEventListener("loadend", () => {
    state.xhr = null;
    setBusy(false);
  });
  xhr.open("POST", "/analyze/stream");
  if (apiKey) {
    xhr.setRequestHeader("Authorization", `Bearer ${apiKey}`);
  }
  xhr.send(form);
}

// Returns true for the final event (result or error).
function onEvent(event, video) {
  if (event.event === "progress") {
    const { segments_done: done, segments_total: total } = event;
    setProgress("analysis-progress", total ? done / total : 0);
    setStatus(done < total ? `Analysing… ${done} of ${total} segments done`
                           : `All ${total} segments done. Building the timeline…`);
    return false;
  }
  if (event.event === "result") {
    setProgress("analysis-progress", 1);
    setStatus("Done.");
    showResult(event.result, video);
    return true;
  }
  if (event.event === "error") {
    showError(event.error.code, event.error.message);
    return true;
  }
  return false;
}

function showHttpError(xhr) {
  const error = httpError(xhr);
  showError(error.code, error.message, error.retryAfter);
}

// The API's error body of a failed request: {code, message, retryAfter}.
function httpError(xhr) {
  let error = null;
  try {
    error = JSON.parse(xhr.responseText).error;
  } catch (_) {
    // Not our JSON (e.g. a proxy's page): fall through to the status line.
  }
  error = error || { code: xhr.status >= 500 ? "internal_error" : "malformed_request",
                     message: `HTTP ${xhr.status} ${xhr.statusText}` };
  return { ...error, retryAfter: xhr.getResponseHeader("Retry-After") };
}

function showError(code, detail, retryAfter) {
  renderError($("error"), code, detail, retryAfter);
  setStatus("Failed.");
}

// The error in words in `box`: what it means for the person, then the server's detail and code.
function renderError(box, code, detail, retryAfter, fallback = "The analysis failed.") {
  const friendly = ERROR_MESSAGES[code] || fallback;
  box.replaceChildren();
  const summary = document.createElement("p");
  summary.textContent = friendly + (retryAfter ? ` Try again in ${retryAfter} seconds.` : "");
  box.append(summary);
  if (detail) {
    const more = document.createElement("p");
    more.textContent = `Details: ${detail} `;
    const codeElement = document.createElement("code");
    codeElement.textContent = `(${code})`;
    more.append(codeElement);
    box.append(more);
  }
  box.dataset.code = code;
  box.hidden = false;
}

function hideError() {
  $("error").hidden = true;
  $("error").replaceChildren();
}

function setBusy(busy) {
  $("analyse-button").disabled = busy;
  $("cancel-button").hidden = !busy;
}

function setProgress(id, fraction) {
  $(id).value = Math.max(0, Math.min(1, fraction));
}

function setStatus(text) {
  $("status-text").textContent = text;
}

// -- Result ----------------------------------------------------------------------------

function showResult(result, video) {
  state.urls.forEach((url) => URL.revokeObjectURL(url));
  state.urls = [];
  state.result = result;
  state.frames = result.frames || [];
  state.times = state.frames.map((frame) => frame.t_s);
  // Between two analysed frames, show the nearer one; beyond half a step there is no data.
  const step = medianStep(state.times) || 1 / (result.video.fps || 30);
  state.tolerance = step * 0.6 + 0.01;
  state.poseColours = assignPoseColours(result);

  const player = $("video");
  $("video-note").textContent = "";
  player.src = objectUrl(video);
  buildDancerLegend(result);
  buildMusicInfo(result.music);
  buildTimeline(result);
  buildKeyPoses(result);
  buildMetrics(result);
  buildSummary(result);
  buildDownloads(result);
  $("results").hidden = false;
  $("results-heading").focus();
}

function objectUrl(blob) {
  const url = URL.createObjectURL(blob);
  state.urls.push(url);
  return url;
}

function medianStep(times) {
  if (times.length < 2) return 0;
  const steps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
  return steps[Math.floor(steps.length / 2)];
}

function dancerColour(id) {
  return DANCER_COLOURS[(id - 1) % DANCER_COLOURS.length];
}

function assignPoseColours(result) {
  const names = new Set();
  result.dancers.forEach((dancer) => dancer.poses.forEach((pose) => names.add(pose.name)));
  const colours = new Map();
  let next = 0;
  [...names].sort().forEach((name) => {
    colours.set(name, FIXED_POSE_COLOURS[name] || POSE_COLOURS[next++ % POSE_COLOURS.length]);
  });
  return colours;
}

function swatch(colour) {
  const element = document.createElement("span");
  element.className = "swatch";
  element.style.background = colour;
  return element;
}

function buildDancerLegend(result) {
  const legend = $("dancer-legend");
  legend.replaceChildren();
  result.dancers.forEach((dancer) => {
    const item = document.createElement("li");
    const seen = dancer.coverage > 0 && dancer.coverage < 0.005 ? "<1" : Math.round(dancer.coverage * 100);
    item.append(swatch(dancerColour(dancer.id)), `Dancer ${dancer.id} (seen in ${seen}% of frames)`);
    legend.append(item);
  });
  if (!result.dancers.length) {
    const item = document.createElement("li");
    item.textContent = "No dancer was detected in this video.";
    legend.append(item);
  }
}

// -- Skeleton over the video -----------------------------------------------------------

function setUpPlayer() {
  const video = $("video");
  const redraw = () => {
    placeCanvas();
    drawAt(video.currentTime);
  };
  ["loadedmetadata", "loadeddata", "seeked", "timeupdate"].forEach((name) => video.addEventListener(name, redraw));
  window.addEventListener("resize", redraw);
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
    // Called for each frame the video presents, with that frame's own media time.
    const onFrame = (_now, metadata) => {
      drawAt(metadata.mediaTime);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  } else {
    const onAnimationFrame = () => {
      if (!video.paused) drawAt(video.currentTime);
      requestAnimationFrame(onAnimationFrame);
    };
    requestAnimationFrame(onAnimationFrame);
  }
  video.addEventListener("error", () => {
    $("video-note").textContent = "This browser cannot play the video's format, so the skeleton cannot be " +
      "shown over it; the timeline, summary and downloads below are complete.";
  });
}

// The canvas covers the picture inside the video box (which may be letterboxed).
function placeCanvas() {
  const video = $("video");
  const canvas = $("skeleton");
  const width = video.videoWidth || (state.result && state.result.video.width) || 1;
  const height = video.videoHeight || (state.result && state.result.video.height) || 1;
  const scale = Math.min(video.clientWidth / width, video.clientHeight / height);
  const shownWidth = width * scale;
  const shownHeight = height * scale;
  canvas.style.left = `${video.offsetLeft + (video.clientWidth - shownWidth) / 2}px`;
  canvas.style.top = `${video.offsetTop + (video.clientHeight - shownHeight) / 2}px`;
  canvas.style.width = `${shownWidth}px`;
  canvas.style.height = `${shownHeight}px`;
  const ratio = window.devicePixelRatio || 1;
  const pixelWidth = Math.max(1, Math.round(shownWidth * ratio));
  const pixelHeight = Math.max(1, Math.round(shownHeight * ratio));
  if (canvas.width !== pixelWidth || canvas.height !== pixelHeight) {
    canvas.width = pixelWidth;
    canvas.height = pixelHeight;
  }
}

// The analysed frame nearest to time t, or null when none is close enough.
function nearestFrame(t) {
  const times = state.times;
  if (!times.length) return null;
  let low = 0;
  let high = times.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (times[middle] < t) low = middle + 1;
    else high = middle;
  }
  const best = low > 0 && t - times[low - 1] < times[low] - t ? low - 1 : low;
  return Math.abs(times[best] - t) <= state.tolerance ? state.frames[best] : null;
}

function drawAt(t) {
  updatePlayheads(t);
  const canvas = $("skeleton");
  const context = canvas.getContext("2d");
  context.clearRect(0, 0, canvas.width, canvas.height);
  const frame = nearestFrame(t);
  canvas.dataset.frame = frame ? frame.index : "";
  if (!frame) return;
  const lineWidth = Math.max(2, Math.round(Math.min(canvas.width, canvas.height) / 150));
  context.lineWidth = lineWidth;
  context.lineCap = "round";
  frame.people.forEach((person) => {
    const colour = dancerColour(person.id);
    const points = person.landmarks.map(([x, y, , visibility]) => ({
      x: x * canvas.width, y: y * canvas.height, seen: visibility >= MIN_VISIBILITY,
    }));
    context.strokeStyle = colour;
    context.fillStyle = colour;
    context.beginPath();
    SKELETON.forEach(([a, b]) => {
      if (points[a].seen && points[b].seen) {
        context.moveTo(points[a].x, points[a].y);
        context.lineTo(points[b].x, points[b].y);
      }
    });
    context.stroke();
    points.forEach((point) => {
      if (!point.seen) return;
      context.beginPath();
      context.arc(point.x, point.y, lineWidth * 1.2, 0, 2 * Math.PI);
      context.fill();
    });
  });
}

// -- Timeline --------------------------------------------------------------------------

function buildMusicInfo(music) {
  const info = $("music-info");
  info.textContent = music
    ? `Music: ${Math.round(music.tempo_bpm)} BPM, ${music.beats_s.length} beats (the thin lines on the timeline).`
    : "Music: no beat found (the video has no audio track, or no steady beat in it).";
  info.dataset.tempo = music ? music.tempo_bpm : "";
}

// Per dancer a lane of poses and an energy row under it; the beats over them all.
function buildTimeline(result) {
  const timeline = $("timeline");
  timeline.replaceChildren();
  const duration = result.video.duration_s || 1;
  const lanes = document.createElement("div");
  lanes.className = "lanes";
  const peak = peakEnergy(result.dancers);
  result.dancers.forEach((dancer) => lanes.append(poseLane(dancer, duration), energyRow(dancer, duration, peak)));
  lanes.append(beatLayer(result.music, duration));
  timeline.append(lanes, axis(duration));
  buildPoseLegend();
}

function poseLane(dancer, duration) {
  const lane = document.createElement("div");
  lane.className = "lane";
  lane.setAttribute("role", "group");
  lane.setAttribute("aria-label", `Dancer ${dancer.id}`);
  const label = document.createElement("div");
  label.className = "lane-label";
  label.append(swatch(dancerColour(dancer.id)), `Dancer ${dancer.id}`);
  const track = document.createElement("div");
  track.className = "track";
  dancer.poses.forEach((pose) => track.append(poseBar(dancer, pose, duration)));
  track.append(playhead());
  lane.append(label, track);
  return lane;
}

function playhead() {
  const element = document.createElement("div");
  element.className = "playhead";
  return element;
}

function energyTimeline(dancer) {
  return (dancer.metrics && dancer.metrics.timeline) || [];
}

// One scale for every dancer, so their curves compare.
function peakEnergy(dancers) {
  const values = dancers.flatMap((dancer) => energyTimeline(dancer).map((point) => point.energy ?? 0));
  return Math.max(0, ...values) || 1;
}

// The dancer's energy second by second: a line through each second's middle (each value
// is the mean over [t_s, t_s + 1), the last second clipped to the video's end), broken
// where the dancer was not seen. Hover for the value.
function energyRow(dancer, duration, peak) {
  const row = document.createElement("div");
  row.className = "energy-row";
  const label = document.createElement("div");
  label.className = "lane-label energy-label";
  label.textContent = "energy";
  const track = document.createElement("div");
  track.className = "track energy-track";
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "energy");
  svg.setAttribute("viewBox", `0 0 ${PLOT.width} ${PLOT.height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.dataset.dancer = dancer.id;
  const timeline = energyTimeline(dancer);
  const middle = (point) => (point.t_s + Math.min(point.t_s + 1, duration)) / 2;
  const x = (t) => (PLOT.width * Math.max(0, Math.min(t, duration))) / duration;
  const y = (energy) => PLOT.bottom - ((PLOT.bottom - PLOT.top) * energy) / peak;
  seenRuns(timeline, "energy").forEach((run) => {
    let points = run.map((point) => [x(middle(point)), y(point.energy)]);
    if (points.length === 1) {
      // A lone second: a short flat stroke across it, so it shows.
      points = [[x(run[0].t_s), points[0][1]], [x(Math.min(run[0].t_s + 1, duration)), points[0][1]]];
    }
    const area = document.createElementNS(SVG_NS, "polygon");
    area.setAttribute("class", "energy-area");
    const base = [[points[0][0], PLOT.height], ...points, [points[points.length - 1][0], PLOT.height]];
    area.setAttribute("points", base.map((point) => point.join(",")).join(" "));
    area.setAttribute("fill", dancerColour(dancer.id));
    const line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("points", points.map((point) => point.join(",")).join(" "));
    line.setAttribute("stroke", dancerColour(dancer.id));
    svg.append(area, line);
  });
  const known = timeline.filter((point) => point.energy !== null);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", known.length
    ? `Dancer ${dancer.id}'s energy over time, up to ${Math.max(...known.map((p) => p.energy)).toFixed(2)} ` +
      "torso lengths a second"
    : `No energy measured for dancer ${dancer.id}`);
  track.append(svg, playhead());
  const tip = (event) => {
    const box = track.getBoundingClientRect();
    const t = (duration * (event.clientX - box.left)) / box.width;
    const point = timeline.find((entry) => t >= entry.t_s && t < entry.t_s + 1);
    const value = point && point.energy !== null ? `${point.energy.toFixed(2)} torso lengths a second` : "not seen";
    const span = point ? `${formatTime(point.t_s)} to ${formatTime(Math.min(point.t_s + 1, duration))}` : "";
    showTooltip(`Dancer ${dancer.id}'s energy ${span}: ${value}`, event.clientX, event.clientY);
  };
  track.addEventListener("mousemove", tip);
  track.addEventListener("mouseleave", hideTooltip);
  row.append(label, track);
  return row;
}

// Runs of consecutive points whose `key` has a value (null: not seen then); the Compare tab uses it too.
function seenRuns(timeline, key) {
  const runs = [];
  let run = [];
  timeline.forEach((point) => {
    if (point[key] === null) {
      if (run.length) runs.push(run);
      run = [];
    } else {
      run.push(point);
    }
  });
  if (run.length) runs.push(run);
  return runs;
}

// A thin mark at each beat, over every lane.
function beatLayer(music, duration) {
  const layer = document.createElement("div");
  layer.className = "beats";
  layer.setAttribute("aria-hidden", "true");
  (music ? music.beats_s : []).filter((t) => t >= 0 && t <= duration).forEach((t) => {
    const tick = document.createElement("span");
    tick.className = "beat-tick";
    tick.style.left = `${(100 * t) / duration}%`;
    tick.dataset.t = t;
    layer.append(tick);
  });
  return layer;
}

function poseBar(dancer, pose, duration) {
  const bar = document.createElement("button");
  bar.type = "button";
  bar.className = `bar ${MOVEMENTS.has(pose.name) ? "movement" : "pose"}`;
  // A segment ends one frame (or sampling step) after its last frame: may pass the video's end.
  const end = Math.min(pose.end_s, duration);
  bar.style.left = `${(100 * pose.start_s) / duration}%`;
  bar.style.width = `${(100 * Math.max(0, end - pose.start_s)) / duration}%`;
  bar.style.background = state.poseColours.get(pose.name);
  bar.textContent = MOVEMENTS.has(pose.name) ? "" : pose.name;
  const times = `${formatTime(pose.start_s)} to ${formatTime(pose.end_s)}`;
  // `facing` (front, back or side) is newer than the rest: shown when the server sends it.
  const facing = pose.facing ? `, facing ${pose.facing}` : "";
  bar.setAttribute("aria-label", `Dancer ${dancer.id}: ${pose.name}, ${times}${facing}`);
  bar.dataset.pose = pose.name;
  bar.dataset.start = pose.start_s;
  const tip = `${pose.name}: ${times} (${pose.duration_s.toFixed(2)} s, confidence ${pose.confidence.toFixed(2)}` +
    `${facing})`;
  bar.addEventListener("mouseenter", (event) => showTooltip(tip, event.clientX, event.clientY));
  bar.addEventListener("mousemove", (event) => showTooltip(tip, event.clientX, event.clientY));
  bar.addEventListener("mouseleave", hideTooltip);
  bar.addEventListener("focus", () => {
    const box = bar.getBoundingClientRect();
    showTooltip(tip, box.left, box.top);
  });
  bar.addEventListener("blur", hideTooltip);
  bar.addEventListener("click", () => seek(pose.start_s));
  return bar;
}

function axis(duration) {
  const row = document.createElement("div");
  row.className = "axis";
  row.setAttribute("aria-hidden", "true");
  for (let i = 0; i <= 4; i += 1) {
    const tick = document.createElement("span");
    tick.textContent = formatTime((duration * i) / 4);
    row.append(tick);
  }
  return row;
}

function buildPoseLegend() {
  const legend = $("pose-legend");
  legend.replaceChildren();
  state.poseColours.forEach((colour, name) => {
    const item = document.createElement("li");
    item.append(swatch(colour), name);
    legend.append(item);
  });
}

function seek(t) {
  const video = $("video");
  video.currentTime = t;
  drawAt(t);
}

function updatePlayheads(t) {
  const duration = (state.result && state.result.video.duration_s) || 1;
  const left = `${Math.max(0, Math.min(100, (100 * t) / duration))}%`;
  document.querySelectorAll(".playhead").forEach((playhead) => {
    playhead.style.left = left;
  });
}

function showTooltip(text, x, y) {
  const tooltip = $("tooltip");
  tooltip.textContent = text;
  tooltip.hidden = false;
  tooltip.style.left = `${Math.min(x + 12, window.innerWidth - tooltip.offsetWidth - 8)}px`;
  tooltip.style.top = `${Math.max(4, y - tooltip.offsetHeight - 8)}px`;
}

function hideTooltip() {
  $("tooltip").hidden = true;
}

// -- Key poses and movement ------------------------------------------------------------

function buildKeyPoses(result) {
  const box = $("key-poses");
  box.replaceChildren();
  result.dancers.forEach((dancer) => {
    const group = document.createElement("section");
    group.className = "key-pose-group";
    group.setAttribute("aria-label", `Dancer ${dancer.id}'s key poses`);
    const heading = document.createElement("h4");
    heading.append(swatch(dancerColour(dancer.id)), `Dancer ${dancer.id}`);
    group.append(heading);
    const poses = (dancer.key_poses || []).filter((pose) => pose.occurrences.length);
    if (poses.length) {
      const cards = document.createElement("ul");
      cards.className = "cards";
      poses.forEach((pose) => {
        const item = document.createElement("li");
        item.append(keyPoseCard(dancer, pose));
        cards.append(item);
      });
      group.append(cards);
    } else {
      const none = document.createElement("p");
      none.className = "hint";
      none.textContent = "No key pose: this dancer did not stop in the same shape twice.";
      group.append(none);
    }
    box.append(group);
  });
}

// A card: the clearest picture of the shape, its name and count. Each click seeks to the
// next occurrence (the first, then the second, ... and round again).
function keyPoseCard(dancer, pose) {
  const name = pose.name ?? `shape ${pose.id}`; // null: no named pose of the vocabulary fits
  const count = pose.occurrences.length;
  const card = document.createElement("button");
  card.type = "button";
  card.className = "key-pose";
  card.style.borderColor = dancerColour(dancer.id);
  card.dataset.keyPose = pose.id;
  card.title = `${name}, at ${pose.occurrences.map((occurrence) => formatTime(occurrence.start_s)).join(", ")}`;
  let picture;
  if (pose.thumbnail) {
    picture = document.createElement("img");
    picture.src = pose.thumbnail;
    picture.alt = `Dancer ${dancer.id} in ${name}, at ${formatTime(pose.clearest.t_s)}`;
  } else {
    picture = document.createElement("span");
    picture.textContent = "no picture";
  }
  picture.classList.add("key-pose-picture");
  const label = document.createElement("span");
  label.className = "key-pose-name";
  label.textContent = name;
  const times = document.createElement("span");
  times.className = "key-pose-count";
  times.textContent = count === 1 ? "once" : `${count} times`;
  const position = document.createElement("span");
  position.className = "key-pose-position";
  position.textContent = "click to see it";
  card.append(picture, label, times, position);
  let next = 0;
  card.addEventListener("click", () => {
    const occurrence = pose.occurrences[next];
    seek(occurrence.start_s);
    position.textContent = `${next + 1} of ${count}: ${formatTime(occurrence.start_s)}`;
    next = (next + 1) % count;
  });
  return card;
}

function buildMetrics(result) {
  const table = $("metrics");
  const header = document.createElement("tr");
  header.append(headingCell("Dancer", ""));
  METRIC_COLUMNS.forEach((column) => {
    const heading = headingCell(column.label, column.title);
    if (column.text !== onBeatText) heading.classList.add("number");
    header.append(heading);
  });
  table.tHead.replaceChildren(header);
  const body = table.tBodies[0];
  body.replaceChildren();
  result.dancers.forEach((dancer) => {
    const row = document.createElement("tr");
    row.dataset.dancer = dancer.id;
    const who = document.createElement("td");
    who.append(swatch(dancerColour(dancer.id)), `Dancer ${dancer.id}`);
    row.append(who);
    METRIC_COLUMNS.forEach((column) => {
      const text = dancer.metrics ? column.text(dancer.metrics, result.music) : "–";
      const element = cell(text, column.text !== onBeatText);
      if (column.text === onBeatText) {
        element.className = "on-beat";
        const onBeat = dancer.metrics && dancer.metrics.on_beat;
        if (onBeat && result.music) {
          element.title = `${onBeat.hits} hits timed; a hit within ${Math.round(onBeat.tolerance_s * 1000)} ms ` +
            "of a beat is on it";
        }
      }
      row.append(element);
    });
    body.append(row);
  });
}

function headingCell(text, title) {
  const element = document.createElement("th");
  element.scope = "col";
  element.textContent = text;
  if (title) {
    element.title = title;
    element.classList.add("explained");
  }
  return element;
}

// E.g. "75% on the beat, 8 ms late on average".
function onBeatText(metrics, music) {
  const onBeat = metrics.on_beat;
  if (!music || !onBeat) return "no beat found";
  if (onBeat.share === null) return "no hits to time";
  const ms = Math.round(Math.abs(onBeat.mean_offset_s) * 1000);
  const offset = ms ? `${ms} ms ${onBeat.mean_offset_s < 0 ? "early" : "late"} on average` : "on time on average";
  return `${Math.round(onBeat.share * 100)}% on the beat, ${offset}`;
}

// -- Summary and downloads -------------------------------------------------------------

function buildSummary(result) {
  const body = $("summary").querySelector("tbody");
  body.replaceChildren();
  result.dancers.forEach((dancer) => {
    Object.entries(dancer.summary).forEach(([name, entry]) => {
      const row = document.createElement("tr");
      const pose = document.createElement("td");
      pose.append(swatch(state.poseColours.get(name)), name);
      row.append(cell(`Dancer ${dancer.id}`), pose, cell(entry.count, true),
                 cell(`${entry.total_s.toFixed(2)} s`, true), cell(`${(entry.share * 100).toFixed(1)}%`, true));
      body.append(row);
    });
  });
}

function cell(text, number = false) {
  const element = document.createElement("td");
  element.textContent = text;
  if (number) element.className = "number";
  return element;
}

function buildDownloads(result) {
  const json = new Blob([JSON.stringify(result, null, 2)], { type: "application/json" });
  $("download-json").href = objectUrl(json);
  const csv = new Blob([framesCsv(result)], { type: "text/csv" });
  $("download-csv").href = objectUrl(csv);
}

// One row per analysed frame and dancer: time, pose, the 33 landmarks and every joint angle.
function framesCsv(result) {
  const frames = result.frames || [];
  const anyPerson = frames.flatMap((frame) => frame.people)[0];
  const angleNames = anyPerson ? Object.keys(anyPerson.angles || {}) : [];
  const header = ["frame", "t_s", "dancer", "pose"];
  LANDMARK_NAMES.forEach((name) => header.push(`${name}_x`, `${name}_y`, `${name}_z`, `${name}_visibility`));
  header.push(...angleNames);
  const lines = [header.join(",")];
  frames.forEach((frame) => {
    frame.people.forEach((person) => {
      const row = [frame.index, frame.t_s, person.id, person.pose ?? ""];
      person.landmarks.forEach((point) => row.push(...point));
      angleNames.forEach((name) => row.push(person.angles[name] ?? ""));
      lines.push(row.map(csvField).join(","));
    });
  });
  return lines.join("\n") + "\n";
}

function csvField(value) {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function formatTime(seconds) {
  const minutes = Math.floor(seconds / 60);
  const rest = seconds - minutes * 60;
  return minutes ? `${minutes}:${rest.toFixed(2).padStart(5, "0")}` : `${rest.toFixed(2)} s`;
}

function formatNumber(value, digits, unit) {
  return value === null || value === undefined ? "–" : `${value.toFixed(digits)}${unit}`;
}

function formatBytes(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(bytes / 1e3)} kB`;
}
