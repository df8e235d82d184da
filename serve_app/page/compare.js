// The page's Compare tab: upload a reference dance (the teacher) and a performance (the
// student) to POST /compare, then show the score and timing, each body part's score, the
// score over time and the worst moments, with the two videos side by side, kept in step by
// the alignment: the performance's controls drive the reference to the matched moment.
// Uses app.js's shared functions ($, renderError, httpError, setProgress, formatTime, ...).
"use strict";

// The response's limbs, in the order shown, and their names in words.
const LIMBS = [
  ["left_arm", "Left arm"], ["right_arm", "Right arm"], ["left_leg", "Left leg"],
  ["right_leg", "Right leg"], ["torso", "Torso"], ["head", "Head"],
];
// Score bands for the bars' colours: good from 85, fair from 60, poor below.
const SCORE_BANDS = [[85, "good"], [60, "fair"], [0, "poor"]];
const TIMELINE_STEP_S = 0.5; // each timeline point is the mean over half a second (posecore/compare.py)
// Keeping the reference in step while playing: further off than this it jumps there; nearer,
// its playback rate is nudged by DRIFT_GAIN per second of drift (at most MAX_NUDGE).
const DRIFT_SEEK_S = 0.3;
const DRIFT_GAIN = 1.5;
const MAX_NUDGE = 0.5;
const RATE_RANGE = [0.25, 4]; // the reference's playback rate stays within this
const SAME_SPEED = 0.03; // a tempo ratio within this of 1 is "the same speed"
const IN_STEP_S = 0.1; // an offset within this is "in step"

const comparing = {
  xhr: null,
  result: null,
  alignment: [], // [performance t, reference t] pairs, by performance time
  urls: [],
  loop: 0, // the requestAnimationFrame id while the performance plays
};

document.addEventListener("DOMContentLoaded", () => {
  $("compare-form").addEventListener("submit", onCompare);
  $("compare-cancel-button").addEventListener("click", () => comparing.xhr && comparing.xhr.abort());
  setUpDropZone("reference-zone", "reference-input");
  setUpDropZone("performance-zone", "performance-input");
  setUpDuet();
  // Flipping the reference, not the performance: a flipped video would flip its controls too.
  $("flip-reference").addEventListener("change", (event) => {
    $("reference-video").classList.toggle("flipped", event.target.checked);
  });
});

// -- Upload ----------------------------------------------------------------------------

function onCompare(event) {
  event.preventDefault();
  const reference = $("reference-input").files[0];
  const performance = $("performance-input").files[0];
  if (!reference || !performance) {
    showCompareError(reference ? "missing_performance" : "missing_reference", "");
    return;
  }
  const form = new FormData();
  form.append("reference", reference, reference.name);
  form.append("performance", performance, performance.name);
  form.append("mirror", $("compare-mirror").value);
  if ($("compare-sample-fps").value) {
    form.append("sample_fps", $("compare-sample-fps").value);
  }
  sendComparison(form, reference, performance, $("compare-api-key").value.trim());
}

// XMLHttpRequest for its upload progress; the answer is one JSON body once both videos are
// analysed and aligned (no progress events in between: that bar is indeterminate).
function sendComparison(form, reference, performance, apiKey) {
  hideCompareError();
  $("comparison").hidden = true;
  pauseDuet();
  $("compare-progress").hidden = false;
  setProgress("compare-upload-progress", 0);
  setProgress("compare-analysis-progress", 0);
  setCompareStatus("Uploading…");
  setComparing(true);

  const xhr = new XMLHttpRequest();
  comparing.xhr = xhr;
  xhr.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) {
      setProgress("compare-upload-progress", event.loaded / event.total);
      setCompareStatus(`Uploading… ${formatBytes(event.loaded)} of ${formatBytes(event.total)}`);
    }
  });
  xhr.upload.addEventListener("load", () => {
    setProgress("compare-upload-progress", 1);
    $("compare-analysis-progress").removeAttribute("value"); // indeterminate
    setCompareStatus("Uploaded. Analysing both videos and lining them up…");
  });
  xhr.addEventListener("load", () => {
    if (xhr.status !== 200) {
      const error = httpError(xhr);
      showCompareError(error.code, error.message, error.retryAfter);
      return;
    }
    setProgress("compare-analysis-progress", 1);
    setCompareStatus("Done.");
    showComparison(JSON.parse(xhr.responseText), reference, performance);
  });
  xhr.addEventListener("error", () => showCompareError("network", ""));
  xhr.addEventListener("abort", () => {
    setProgress("compare-analysis-progress", 0);
    setCompareStatus("Cancelled.");
  });
  xhr.addEventListener("loadend", () => {
    comparing.xhr = null;
    setComparing(false);
  });
  xhr.open("POST", "/compare");
  if (apiKey) {
    xhr.setRequestHeader("Authorization", `Bearer ${apiKey}`);
  }
  xhr.send(form);
}

function showCompareError(code, detail, retryAfter) {
  setProgress("compare-analysis-progress", 0);
  renderError($("compare-error"), code, detail, retryAfter, "The comparison failed.");
  setCompareStatus("Failed.");
}

function hideCompareError() {
  $("compare-error").hidden = true;
  $("compare-error").replaceChildren();
}

function setComparing(busy) {
  $("compare-button").disabled = busy;
  $("compare-cancel-button").hidden = !busy;
}

function setCompareStatus(text) {
  $("compare-status").textContent = text;
}

// -- Result ----------------------------------------------------------------------------

function showComparison(result, reference, performance) {
  comparing.urls.forEach((url) => URL.revokeObjectURL(url));
  comparing.urls = [];
  comparing.result = result;
  comparing.alignment = alignmentPoints(result);

  $("compare-score").textContent = Math.round(result.score);
  $("compare-score").dataset.value = result.score;
  $("compare-timing").textContent = Math.round(result.timing);
  $("compare-timing").dataset.value = result.timing;
  buildFacts(result);
  $("compare-video-note").textContent = "";
  $("reference-video").src = comparisonUrl(reference);
  $("performance-video").src = comparisonUrl(performance);
  $("flip-reference").checked = result.mirrored;
  $("reference-video").classList.toggle("flipped", result.mirrored);
  buildLimbBars(result.limbs);
  buildScoreTimeline(result);
  buildWorstMoments(result.worst_moments);
  const json = new Blob([JSON.stringify(result, null, 2)], { type: "application/json" });
  $("download-comparison").href = comparisonUrl(json);
  $("comparison").hidden = false;
  $("comparison-heading").focus();
}

function comparisonUrl(blob) {
  const url = URL.createObjectURL(blob);
  comparing.urls.push(url);
  return url;
}

// Offset, tempo, mirroring and who was compared, in words.
function buildFacts(result) {
  const facts = [offsetText(result.offset_s), tempoText(result.tempo_ratio), mirrorText(result.mirrored),
    `Compared: dancer ${result.reference_dancer} of the reference with dancer ${result.performance_dancer} of the ` +
    "performance."];
  $("compare-facts").replaceChildren(...facts.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
}

// offset_s: reference time minus performance time at matched moments.
function offsetText(offset) {
  if (Math.abs(offset) < IN_STEP_S) return "Start: the performance starts in step with the routine.";
  const seconds = `${Math.abs(offset).toFixed(1)} s`;
  return offset > 0 ? `Start: the performance started ${seconds} into the routine.`
                    : `Start: the routine begins ${seconds} into the performance video.`;
}

// tempo_ratio: reference seconds per performance second (0.8: danced at 0.8x speed).
function tempoText(ratio) {
  if (Math.abs(ratio - 1) < SAME_SPEED) return "Tempo: danced at the reference's speed.";
  const percent = Math.round(Math.abs(1 - ratio) * 100);
  return `Tempo: danced ${percent}% ${ratio < 1 ? "slower" : "faster"} than the reference (${ratio.toFixed(2)}× speed).`;
}

function mirrorText(mirrored) {
  return mirrored ? "Mirrored: yes, the performance was scored as its mirror image (as if facing the teacher)."
                  : "Mirrored: no, the performance was scored as filmed.";
}

function scoreBand(score) {
  return SCORE_BANDS.find(([floor]) => score >= floor)[1];
}

// A bar per body part, its length the score out of 100.
function buildLimbBars(limbs) {
  $("limb-bars").replaceChildren(...LIMBS.map(([key, name]) => {
    const score = limbs[key];
    const row = document.createElement("div");
    row.className = "limb";
    row.dataset.limb = key;
    const label = document.createElement("span");
    label.className = "limb-name";
    label.textContent = name;
    const meter = document.createElement("div");
    meter.className = "meter";
    meter.setAttribute("role", "meter");
    meter.setAttribute("aria-label", name);
    meter.setAttribute("aria-valuemin", "0");
    meter.setAttribute("aria-valuemax", "100");
    const fill = document.createElement("div");
    fill.className = "meter-fill";
    const value = document.createElement("span");
    value.className = "limb-value";
    if (score === null || score === undefined) {
      value.textContent = "not seen";
      meter.setAttribute("aria-valuetext", "not seen in both videos");
    } else {
      fill.style.width = `${Math.max(0, Math.min(100, score))}%`;
      fill.classList.add(scoreBand(score));
      value.textContent = Math.round(score);
      meter.setAttribute("aria-valuenow", String(score));
    }
    meter.append(fill);
    row.append(label, meter, value);
    return row;
  }));
}

// The score over the performance's time: a line through each half second's middle, broken
// where the dancer was not seen; the worst moments as red marks; a playhead; click to seek.
function buildScoreTimeline(result) {
  const track = $("score-timeline");
  const duration = result.performance.duration_s || 1;
  const x = (t) => (PLOT.width * Math.max(0, Math.min(t, duration))) / duration;
  const y = (score) => PLOT.bottom - ((PLOT.bottom - PLOT.top) * score) / 100;
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "score-plot");
  svg.setAttribute("viewBox", `0 0 ${PLOT.width} ${PLOT.height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Score over the performance, from ${formatTime(0)} to ${formatTime(duration)}`);
  [25, 50, 75].forEach((score) => {
    const grid = document.createElementNS(SVG_NS, "line");
    grid.setAttribute("class", "grid");
    grid.setAttribute("x1", 0);
    grid.setAttribute("x2", PLOT.width);
    grid.setAttribute("y1", y(score));
    grid.setAttribute("y2", y(score));
    svg.append(grid);
  });
  seenRuns(result.timeline, "score").forEach((run) => {
    const middle = (point) => Math.min(point.t_s + TIMELINE_STEP_S / 2, duration);
    let points = run.map((point) => [x(middle(point)), y(point.score)]);
    if (points.length === 1) {
      points = [[x(run[0].t_s), points[0][1]], [x(Math.min(run[0].t_s + TIMELINE_STEP_S, duration)), points[0][1]]];
    }
    const line = document.createElementNS(SVG_NS, "polyline");
    line.setAttribute("points", points.map((point) => point.join(",")).join(" "));
    svg.append(line);
  });
  const marks = result.worst_moments.map((moment) => {
    const mark = document.createElement("span");
    mark.className = "worst-mark";
    mark.style.left = `${(100 * Math.min(moment.t_s, duration)) / duration}%`;
    return mark;
  });
  const head = document.createElement("div");
  head.className = "score-playhead"; // not .playhead: app.js moves those with the Analyse video
  track.replaceChildren(svg, ...marks, head);
  track.onclick = (event) => {
    const box = track.getBoundingClientRect();
    seekDuet((duration * (event.clientX - box.left)) / box.width);
  };
  track.onmousemove = (event) => {
    const box = track.getBoundingClientRect();
    const t = (duration * (event.clientX - box.left)) / box.width;
    const point = result.timeline.find((entry) => t >= entry.t_s && t < entry.t_s + TIMELINE_STEP_S);
    const score = point && point.score !== null ? `score ${Math.round(point.score)}` : "not seen";
    showTooltip(`${formatTime(t)}: ${score}`, event.clientX, event.clientY);
  };
  track.onmouseleave = hideTooltip;
  const axisRow = $("score-axis");
  axisRow.replaceChildren(...[0, 1, 2, 3, 4].map((i) => {
    const tick = document.createElement("span");
    tick.textContent = formatTime((duration * i) / 4);
    return tick;
  }));
}

function buildWorstMoments(moments) {
  const list = $("worst-moments");
  if (!moments.length) {
    const none = document.createElement("li");
    none.className = "hint";
    none.textContent = "None: no moment of the performance could be matched.";
    list.replaceChildren(none);
    return;
  }
  const names = Object.fromEntries(LIMBS);
  list.replaceChildren(...moments.map((moment) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "moment";
    button.dataset.t = moment.t_s;
    button.dataset.referenceT = moment.reference_t_s;
    const score = document.createElement("span");
    score.className = `moment-score ${scoreBand(moment.score)}`;
    score.textContent = Math.round(moment.score);
    const text = document.createElement("span");
    text.textContent = `At ${formatTime(moment.t_s)} (reference ${formatTime(moment.reference_t_s)}): ` +
      `${(names[moment.limb] || moment.limb).toLowerCase()} furthest off`;
    button.append(score, text);
    button.addEventListener("click", () => seekDuet(moment.t_s));
    item.append(button);
    return item;
  }));
}

// -- The two videos in step ------------------------------------------------------------

// The alignment as (performance time, reference time) pairs: the timeline's matched points
// and the worst moments (so seeking to one shows exactly its reference moment), in time order.
function alignmentPoints(result) {
  const pairs = [...result.timeline, ...result.worst_moments]
    .filter((point) => point.reference_t_s !== null && point.reference_t_s !== undefined)
    .map((point) => [point.t_s, point.reference_t_s])
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  return pairs.filter((pair, i) => i === 0 || pair[0] > pairs[i - 1][0]);
}

// The reference time matched to performance time t: linear between alignment points, and
// beyond them on at the overall tempo. Not clamped to the reference's length.
function referenceTimeAt(t) {
  const points = comparing.alignment;
  const result = comparing.result;
  if (!points.length) return result.offset_s + t * result.tempo_ratio;
  const last = points.length - 1;
  if (t <= points[0][0]) return points[0][1] + (t - points[0][0]) * result.tempo_ratio;
  if (t >= points[last][0]) return points[last][1] + (t - points[last][0]) * result.tempo_ratio;
  const i = points.findIndex((point) => point[0] > t); // first point after t (1..last)
  const [t0, r0] = points[i - 1];
  const [t1, r1] = points[i];
  return r0 + ((r1 - r0) * (t - t0)) / (t1 - t0);
}

// Reference seconds per performance second around performance time t (the local tempo),
// over a step either side: steadier than between two neighbouring points.
function referenceRateAt(t) {
  return (referenceTimeAt(t + TIMELINE_STEP_S) - referenceTimeAt(t - TIMELINE_STEP_S)) / (2 * TIMELINE_STEP_S);
}

function setUpDuet() {
  const performance = $("performance-video");
  const reference = $("reference-video");
  const follow = () => keepInStep();
  ["seeking", "seeked", "timeupdate", "pause", "ratechange", "loadedmetadata"].forEach((name) => {
    performance.addEventListener(name, follow);
  });
  reference.addEventListener("loadedmetadata", follow);
  performance.addEventListener("play", () => {
    follow();
    cancelAnimationFrame(comparing.loop);
    const tick = () => {
      keepInStep();
      if (!performance.paused && !performance.ended) comparing.loop = requestAnimationFrame(tick);
    };
    comparing.loop = requestAnimationFrame(tick);
  });
  performance.addEventListener("ended", () => reference.pause());
  // Clicking the reference plays or pauses both, as the performance's own controls do.
  reference.addEventListener("click", () => (performance.paused ? performance.play() : performance.pause()));
  [performance, reference].forEach((video) => video.addEventListener("error", () => {
    $("compare-video-note").textContent = "This browser cannot play one of the videos' format, so the two " +
      "cannot be shown side by side; the scores below are complete.";
  }));
}

// The reference follows the performance: paused, it shows the matched moment; playing, it
// plays at the local tempo, nudged back when it drifts and jumping when far off. Before or
// after the routine it waits at its start or end.
function keepInStep() {
  if (!comparing.result) return;
  const performance = $("performance-video");
  const reference = $("reference-video");
  const t = performance.currentTime;
  updateScorePlayhead(t);
  const target = referenceTimeAt(t);
  const end = Number.isFinite(reference.duration) ? reference.duration : comparing.result.reference.duration_s;
  if (performance.paused || performance.ended || target < 0 || target >= end) {
    if (!reference.paused) reference.pause();
    const shown = Math.max(0, Math.min(target, end));
    if (Math.abs(reference.currentTime - shown) > 0.02) reference.currentTime = shown;
    return;
  }
  const drift = target - reference.currentTime;
  if (Math.abs(drift) > DRIFT_SEEK_S) reference.currentTime = target;
  const nudge = Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, drift * DRIFT_GAIN));
  const rate = referenceRateAt(t) * performance.playbackRate + nudge;
  const bounded = Math.max(RATE_RANGE[0], Math.min(RATE_RANGE[1], rate));
  if (Math.abs(reference.playbackRate - bounded) > 0.02) reference.playbackRate = bounded;
  if (reference.paused) reference.play().catch(() => {}); // muted: no autoplay block; a new src aborts it
}

function seekDuet(t) {
  $("performance-video").currentTime = t;
  keepInStep();
}

function pauseDuet() {
  $("performance-video").pause();
  $("reference-video").pause();
}

function updateScorePlayhead(t) {
  const duration = (comparing.result && comparing.result.performance.duration_s) || 1;
  const head = $("score-timeline").querySelector(".score-playhead");
  if (head) head.style.left = `${Math.max(0, Math.min(100, (100 * t) / duration))}%`;
}
