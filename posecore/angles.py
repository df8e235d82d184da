"""Joint angles and body measures over a track, vectorised over frames.

Every measure is declared once in ``ANGLES`` (which landmarks, image or world space,
unit, meaning) and computed from that declaration, so the pose table, the GET /poses
endpoint and the maths cannot drift apart.

Which space, and why:

* **world (3D, metres)** for joint flexion (elbow, knee, shoulder, hip, leg spread):
  an inner angle measured in 3D does not shrink when a limb points at the camera,
  whereas its 2D projection does (foreshortening). Also for anything about
  forward/backward (arm_forward, leg_forward): only world z has depth. And for
  ankle_lift: in the image a foot placed further from the camera looks higher.
* **image (2D, pixels)** for directions relative to gravity (arm/thigh elevation,
  torso lean) and for hand-to-hip contact: the image x/y are MediaPipe's most
  accurate outputs, while world coordinates come from a depth guess that is noisy.
  Image coordinates are scaled to pixels with width/height first, so a 45 degree arm
  stays 45 degrees in a 16:9 frame.

Conventions: world x = image right, y = down, z = away from the camera. "left" is the
dancer's left. Angles are in degrees; the ``%`` measures are percentages of a body
length, so a pose tolerance of 10 means 10 degrees or 10 percentage points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LANDMARK_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip

# Index of each landmark's mirror image ("left" <-> "right" in its name, e.g. mouth_left).
MIRROR_ORDER = np.array([
    LANDMARK_NAMES.index(n.replace("left", "#").replace("right", "left").replace("#", "right"))
    for n in LANDMARK_NAMES
])  # fmt: skip

L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 11, 12, 13, 14, 15, 16
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 23, 24, 25, 26, 27, 28
NOSE, L_HEEL, R_HEEL, L_TOE, R_TOE = 0, 29, 30, 31, 32
L_EYE, R_EYE, L_EAR, R_EAR = 2, 5, 7, 8
HEAD = (L_EYE, R_EYE, L_EAR, R_EAR)  # their centre is the head's centre, at eye level
TORSO = (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP)
LEGS = (L_HIP, L_KNEE, L_ANKLE, R_HIP, R_KNEE, R_ANKLE)

_UP_WORLD = np.array([0.0, -1.0, 0.0])  # world y points down
# The top of the head above eye level, in torso lengths (shoulder mid to hip mid): a head is
# ~23 cm tall with the eyes half-way, an adult torso ~50 cm.
HEAD_TOP = 0.23
# Below this shoulder width (in torso lengths) the shoulders are seen nearly edge-on, and
# which way "across the body" points cannot be told from the image.
MIN_SHOULDER_WIDTH = 0.3


def _norm(v: np.ndarray) -> np.ndarray:
    return np.linalg.norm(v, axis=-1)


def _between(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle between two vectors (..., k), degrees; NaN if either has zero length."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(u * v, axis=-1) / (_norm(u) * _norm(v))
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _inner(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at joint b between b->a and b->c (180 = straight)."""
    return _between(a - b, c - b)


def _elevation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Image direction a->b against straight down: 0 down, 90 horizontal, 180 up."""
    return _between(b - a, np.array([0.0, 1.0]))


def _forward(left: np.ndarray, right: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How much a->b points along the dancer's horizontal forward: +90 ahead, -90 behind.

    Forward comes from the body (left-right axis x up), not from the camera, so it
    works whichever way the dancer faces.
    """
    forward = np.cross(left - right, _UP_WORLD)
    return 90.0 - _between(b - a, forward)


def _lean(ls: np.ndarray, rs: np.ndarray, lh: np.ndarray, rh: np.ndarray) -> np.ndarray:
    """Signed torso tilt from vertical in the image; + = towards the dancer's left."""
    torso = (ls + rs) / 2 - (lh + rh) / 2
    # Which image direction is the dancer's left flips when they face away.
    left_sign = np.where((ls[:, 0] + lh[:, 0]) >= (rs[:, 0] + rh[:, 0]), 1.0, -1.0)
    return np.degrees(np.arctan2(torso[:, 0] * left_sign, -torso[:, 1]))


def _wrist_hip(
    wrist: np.ndarray, hip: np.ndarray, ls: np.ndarray, rs: np.ndarray, lh: np.ndarray, rh: np.ndarray
) -> np.ndarray:
    """Wrist-to-hip distance in % of torso length (shoulder mid to hip mid)."""
    torso = _norm((ls + rs) / 2 - (lh + rh) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * _norm(wrist - hip) / torso


def _ankle_lift(side: str) -> Callable[..., np.ndarray]:
    """Height of this ankle above the other, in % of leg length (world y)."""

    def lift(*legs: np.ndarray) -> np.ndarray:
        lh, lk, la, rh, rk, ra = legs  # in LEGS order
        leg = (_norm(lh - lk) + _norm(lk - la) + _norm(rh - rk) + _norm(rk - ra)) / 2
        this, other = (la, ra) if side == "left" else (ra, la)
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * (other[:, 1] - this[:, 1]) / leg

    return lift


def _torso_length(ls: np.ndarray, rs: np.ndarray, lh: np.ndarray, rh: np.ndarray) -> np.ndarray:
    return _norm((ls + rs) / 2 - (lh + rh) / 2)


def _wrist_height(wrist: np.ndarray, ls: np.ndarray, rs: np.ndarray, lh: np.ndarray, rh: np.ndarray) -> np.ndarray:
    """Wrist height above the hip line in % of torso length (image y): 100 = shoulder level."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * ((lh[:, 1] + rh[:, 1]) / 2 - wrist[:, 1]) / _torso_length(ls, rs, lh, rh)


def _wrist_head(
    wrist: np.ndarray, nose: np.ndarray, ls: np.ndarray, rs: np.ndarray, lh: np.ndarray, rh: np.ndarray
) -> np.ndarray:
    """Wrist-to-nose distance in % of torso length (image)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * _norm(wrist - nose) / _torso_length(ls, rs, lh, rh)


def _above_nose(
    point: np.ndarray, nose: np.ndarray, ls: np.ndarray, rs: np.ndarray, lh: np.ndarray, rh: np.ndarray
) -> np.ndarray:
    """Height of a point above the nose in % of torso length (image y): + = above, ~30 = top of the head."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * (nose[:, 1] - point[:, 1]) / _torso_length(ls, rs, lh, rh)


def _wrist_across(side: str) -> Callable[..., np.ndarray]:
    """How far this wrist is past the body's midline towards the other side, % of torso length (image).

    0 = on the midline, negative = on its own side; arms crossed in front of the chest put
    both wrists past it. The dancer's left in the image comes from the shoulders and hips.
    """

    def across(wrist: np.ndarray, ls: np.ndarray, rs: np.ndarray, lh: np.ndarray, rh: np.ndarray) -> np.ndarray:
        left_sign = np.where((ls[:, 0] + lh[:, 0]) >= (rs[:, 0] + rh[:, 0]), 1.0, -1.0)
        offset = (wrist[:, 0] - (ls[:, 0] + rs[:, 0]) / 2) * left_sign  # + = towards the dancer's left
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * (-offset if side == "left" else offset) / _torso_length(ls, rs, lh, rh)

    return across


def _head_and_torso(points: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """From ``(*HEAD, *TORSO)`` points: the head's centre (eyes and ears) and the torso length."""
    return np.mean(points[: len(HEAD)], axis=0), _torso_length(*points[len(HEAD) :])


def _head_distance(wrist: np.ndarray, *points: np.ndarray) -> np.ndarray:
    """Wrist to the head's centre (eyes and ears, ``HEAD``) in % of torso length (image)."""
    head, torso = _head_and_torso(points)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * _norm(wrist - head) / torso


def _above_crown(wrist: np.ndarray, *points: np.ndarray) -> np.ndarray:
    """Wrist height above the top of the head in % of torso length (image y): 0 = level with it.

    The top of the head is ``HEAD_TOP`` torso lengths above the centre of the eyes and ears.
    """
    head, torso = _head_and_torso(points)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * ((head[:, 1] - wrist[:, 1]) / torso - HEAD_TOP)


def _forearm_inward(side: str) -> Callable[..., np.ndarray]:
    """How far the forearm (elbow to wrist) reaches across the body, in % of shoulder width.

    Measured along the shoulder line, towards the other shoulder: 50 = the wrist is half a
    shoulder width nearer the other side than the elbow. Forearms crossed or stacked in
    front of the chest both reach far across; arms at the sides or raised reach ~0.
    Shoulder width scales with the forearm as the dancer turns, so the measure does not
    change with a three-quarter view; NaN when the shoulders are seen edge-on.
    """

    def inward(
        elbow: np.ndarray, wrist: np.ndarray, ls: np.ndarray, rs: np.ndarray, lh: np.ndarray, rh: np.ndarray
    ) -> np.ndarray:
        across = rs - ls if side == "left" else ls - rs  # from this shoulder to the other
        width = _norm(across)
        with np.errstate(invalid="ignore", divide="ignore"):
            reach = 100.0 * np.sum((wrist - elbow) * across, axis=-1) / width**2
            return np.where(width >= MIN_SHOULDER_WIDTH * _torso_length(ls, rs, lh, rh), reach, np.nan)

    return inward


def _wrist_distance(
    lw: np.ndarray, rw: np.ndarray, ls: np.ndarray, rs: np.ndarray, lh: np.ndarray, rh: np.ndarray
) -> np.ndarray:
    """Distance between the wrists in % of torso length (image)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * _norm(lw - rw) / _torso_length(ls, rs, lh, rh)


def _stance_width(ls: np.ndarray, rs: np.ndarray, la: np.ndarray, ra: np.ndarray) -> np.ndarray:
    """Distance between the ankles along the floor in % of shoulder width (world x, z)."""
    floor = [0, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * _norm((la - ra)[:, floor]) / _norm((ls - rs)[:, floor])


def _image_leg(
    lh: np.ndarray, lk: np.ndarray, la: np.ndarray, rh: np.ndarray, rk: np.ndarray, ra: np.ndarray
) -> np.ndarray:
    """The longer leg's hip-knee-ankle length in the image (the less foreshortened one)."""
    return np.maximum(_norm(lh - lk) + _norm(lk - la), _norm(rh - rk) + _norm(rk - ra))


def _hip_height(*legs: np.ndarray) -> np.ndarray:
    """Hip centre above the lower ankle in % of leg length (image y): ~100 standing, ~0 sitting."""
    lh, lk, la, rh, rk, ra = legs
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * (np.maximum(la[:, 1], ra[:, 1]) - (lh[:, 1] + rh[:, 1]) / 2) / _image_leg(*legs)


def _knee_height(*legs: np.ndarray) -> np.ndarray:
    """The lower knee above the lower ankle in % of leg length (image y): ~0 with a knee on the floor."""
    lh, lk, la, rh, rk, ra = legs
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * (np.maximum(la[:, 1], ra[:, 1]) - np.maximum(lk[:, 1], rk[:, 1])) / _image_leg(*legs)


def _ankle_knee(side: str) -> Callable[..., np.ndarray]:
    """Distance from this ankle to the other knee in % of leg length (world): small in a passe."""

    def distance(*legs: np.ndarray) -> np.ndarray:
        lh, lk, la, rh, rk, ra = legs
        leg = (_norm(lh - lk) + _norm(lk - la) + _norm(rh - rk) + _norm(rk - ra)) / 2
        ankle, other_knee = (la, rk) if side == "left" else (ra, lk)
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * _norm(ankle - other_knee) / leg

    return distance


def _heel_lift(
    lh: np.ndarray,
    lk: np.ndarray,
    la: np.ndarray,
    lt: np.ndarray,
    lhe: np.ndarray,
    rh: np.ndarray,
    rk: np.ndarray,
    ra: np.ndarray,
    rt: np.ndarray,
    rhe: np.ndarray,
) -> np.ndarray:
    """The lower of the two heels' rise above its toes, in % of leg length (world y): on the toes > 0."""
    leg = (_norm(lh - lk) + _norm(lk - la) + _norm(rh - rk) + _norm(rk - ra)) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * np.minimum(lt[:, 1] - lhe[:, 1], rt[:, 1] - rhe[:, 1]) / leg


@dataclass(frozen=True)
class AngleDef:
    """One measure: computed by ``compute`` from ``landmarks`` (in that order) in ``space``."""

    space: str  # "image" (pixels) or "world" (metres)
    landmarks: tuple[int, ...]
    unit: str
    description: str
    compute: Callable[..., np.ndarray]
    # Of these landmarks the best seen one is enough (the others' positions MediaPipe still
    # estimates): the head's points, of which a profile or back view hides some.
    any_of: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        """JSON form for the API: which landmarks, which space, which unit."""
        return {
            "space": self.space,
            "landmarks": [LANDMARK_NAMES[i] for i in dict.fromkeys(self.landmarks)],
            "unit": self.unit,
            "description": self.description,
        }


def _definitions() -> dict[str, AngleDef]:
    defs: dict[str, AngleDef] = {}
    for side, s in (("left", 0), ("right", 1)):
        sh, el, wr = L_SHOULDER + s, L_ELBOW + s, L_WRIST + s
        hip, knee, ank = L_HIP + s, L_KNEE + s, L_ANKLE + s
        defs[f"elbow_{side}"] = AngleDef("world", (sh, el, wr), "deg", "Elbow flexion: 180 = straight arm.", _inner)
        defs[f"shoulder_{side}"] = AngleDef(
            "world", (el, sh, hip), "deg",
            "Upper arm vs torso: 0 = arm at the side, 90 = raised to shoulder height.", _inner,
        )  # fmt: skip
        defs[f"knee_{side}"] = AngleDef("world", (hip, knee, ank), "deg", "Knee flexion: 180 = straight leg.", _inner)
        defs[f"hip_{side}"] = AngleDef(
            "world", (sh, hip, knee), "deg",
            "Torso vs thigh: 180 = standing straight, 90 = thigh at right angle to torso.", _inner,
        )  # fmt: skip
        defs[f"arm_elevation_{side}"] = AngleDef(
            "image", (sh, wr), "deg",
            "Shoulder-to-wrist direction vs vertical: 0 = down, 90 = horizontal, 180 = up.",
            _elevation,
        )  # fmt: skip
        defs[f"thigh_elevation_{side}"] = AngleDef(
            "image", (hip, knee), "deg",
            "Hip-to-knee direction vs vertical: 0 = down, 90 = horizontal.", _elevation,
        )  # fmt: skip
        defs[f"arm_forward_{side}"] = AngleDef(
            "world", (L_SHOULDER, R_SHOULDER, sh, wr), "deg",
            "Shoulder-to-wrist vs the dancer's horizontal forward: 90 = straight ahead, "
            "0 = sideways/up/down, -90 = straight behind.", _forward,
        )  # fmt: skip
        defs[f"leg_forward_{side}"] = AngleDef(
            "world", (L_HIP, R_HIP, hip, ank), "deg",
            "Hip-to-ankle vs the dancer's horizontal forward: 90 = straight ahead, "
            "0 = straight down, -90 = straight behind.", _forward,
        )  # fmt: skip
        defs[f"wrist_hip_{side}"] = AngleDef(
            "image", (wr, hip, *TORSO), "%",
            "Wrist-to-hip distance in % of torso length (hands on hips: small).", _wrist_hip,
        )  # fmt: skip
        defs[f"ankle_lift_{side}"] = AngleDef(
            "world", LEGS, "%",
            f"Height of the {side} ankle above the other, in % of leg length.", _ankle_lift(side),
        )  # fmt: skip
        defs[f"wrist_height_{side}"] = AngleDef(
            "image", (wr, *TORSO), "%",
            "Wrist height above the hip line in % of torso length: 100 = shoulder level.", _wrist_height,
        )  # fmt: skip
        defs[f"wrist_head_{side}"] = AngleDef(
            "image", (wr, NOSE, *TORSO), "%", "Wrist-to-nose distance in % of torso length.", _wrist_head,
        )  # fmt: skip
        defs[f"wrist_above_head_{side}"] = AngleDef(
            "image", (wr, NOSE, *TORSO), "%",
            "Wrist height above the nose in % of torso length: ~30 = top of the head, negative = below the nose.",
            _above_nose,
        )  # fmt: skip
        defs[f"elbow_height_{side}"] = AngleDef(
            "image", (el, *TORSO), "%",
            "Elbow height above the hip line in % of torso length: 100 = shoulder level.", _wrist_height,
        )  # fmt: skip
        defs[f"wrist_across_{side}"] = AngleDef(
            "image", (wr, *TORSO), "%",
            "How far the wrist is past the body's midline towards the other side, % of torso length "
            "(negative: on its own side).", _wrist_across(side),
        )  # fmt: skip
        defs[f"head_distance_{side}"] = AngleDef(
            "image", (wr, *HEAD, *TORSO), "%",
            "Wrist to the centre of the head (eyes and ears) in % of torso length: ~45 with the hand on the head.",
            _head_distance, any_of=HEAD,
        )  # fmt: skip
        defs[f"wrist_above_crown_{side}"] = AngleDef(
            "image", (wr, *HEAD, *TORSO), "%",
            "Wrist height above the top of the head in % of torso length: 0 = level with it, ~-45 = at the chin.",
            _above_crown, any_of=HEAD,
        )  # fmt: skip
        defs[f"forearm_inward_{side}"] = AngleDef(
            "image", (el, wr, *TORSO), "%",
            "How far the forearm reaches across the body along the shoulder line, % of shoulder width "
            "(crossed or stacked forearms: both high; NaN with the shoulders edge-on).", _forearm_inward(side),
        )  # fmt: skip
        defs[f"ankle_knee_{side}"] = AngleDef(
            "world", LEGS, "%",
            f"Distance from the {side} ankle to the other knee, in % of leg length.", _ankle_knee(side),
        )  # fmt: skip
    defs["wrist_distance"] = AngleDef(
        "image", (L_WRIST, R_WRIST, *TORSO), "%", "Distance between the wrists in % of torso length.",
        _wrist_distance,
    )  # fmt: skip
    defs["stance_width"] = AngleDef(
        "world", (L_SHOULDER, R_SHOULDER, L_ANKLE, R_ANKLE), "%",
        "Distance between the ankles along the floor, in % of shoulder width.", _stance_width,
    )  # fmt: skip
    defs["hip_height"] = AngleDef(
        "image", LEGS, "%", "Hip centre above the lower ankle, in % of leg length: ~100 standing, ~0 on the floor.",
        _hip_height,
    )  # fmt: skip
    defs["knee_height"] = AngleDef(
        "image", LEGS, "%", "The lower knee above the lower ankle, in % of leg length: ~0 with a knee down.",
        _knee_height,
    )  # fmt: skip
    defs["heel_lift"] = AngleDef(
        "world", (L_HIP, L_KNEE, L_ANKLE, L_TOE, L_HEEL, R_HIP, R_KNEE, R_ANKLE, R_TOE, R_HEEL), "%",
        "The lower heel's rise above its toes, in % of leg length: > 0 on the toes.", _heel_lift,
    )  # fmt: skip
    defs["torso_lean"] = AngleDef(
        "image", TORSO, "deg",
        "Torso (hip mid to shoulder mid) tilt from vertical: + = towards the dancer's left.",
        _lean,
    )  # fmt: skip
    defs["leg_spread"] = AngleDef(
        "world", (L_HIP, L_KNEE, R_HIP, R_KNEE), "deg",
        "Angle between the two thighs: 0 = together.",
        lambda lh, lk, rh, rk: _between(lk - lh, rk - rh),
    )  # fmt: skip
    return dict(sorted(defs.items()))


ANGLES: dict[str, AngleDef] = _definitions()


def joint_angles(landmarks: np.ndarray, world: np.ndarray, width: int, height: int) -> dict[str, np.ndarray]:
    """Every measure in ``ANGLES`` for each frame: name -> (n,) float64.

    ``landmarks`` (n, 33, 4) image landmarks, ``world`` (n, 33, 3) world landmarks,
    ``width``/``height`` the upright frame size in pixels. Degenerate geometry
    (e.g. two points on top of each other) gives NaN, which matches no pose.
    """
    points = {
        "image": np.asarray(landmarks, dtype=np.float64)[..., :2] * [float(width), float(height)],
        "world": np.asarray(world, dtype=np.float64),
    }
    return {name: d.compute(*(points[d.space][:, i] for i in d.landmarks)) for name, d in ANGLES.items()}


def joint_confidences(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Per measure and frame, the lowest visibility of the landmarks it uses (0..1); of its
    ``any_of`` landmarks only the best seen one counts.

    MediaPipe gives visibility only for image landmarks; world landmarks are the same
    body points, so the same visibility applies.
    """
    visibility = np.asarray(landmarks, dtype=np.float64)[..., 3]

    def confidence(d: AngleDef) -> np.ndarray:
        each = [i for i in dict.fromkeys(d.landmarks) if i not in d.any_of]
        lowest = visibility[:, each].min(axis=1)
        return np.minimum(lowest, visibility[:, list(d.any_of)].max(axis=1)) if d.any_of else lowest

    return {name: confidence(d) for name, d in ANGLES.items()}
