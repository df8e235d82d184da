"""A tiny forward-kinematics skeleton for synthetic BlazePose landmarks.

``skeleton(left_arm_elevation=90, right_arm_elevation=90)`` gives a T-pose as
consistent image landmarks (33, 4) and world landmarks (33, 3), so tests speak in
joint angles instead of coordinates.

Body frame (before ``yaw``): the dancer faces the camera, world x = image right = the
dancer's left, y = down, z = away from the camera (so forward is -z). The image is an
orthographic projection at ``PX_PER_M`` pixels per metre, with the lower ankle on a
fixed floor line (standing: hips at the frame centre), so a squat lowers the hips in
the image and keeps the feet down, as in a video.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posecore.tracks import Track

WIDTH, HEIGHT = 640, 480
PX_PER_M = 250.0
FPS = 30.0

DOWN = np.array([0.0, 1.0, 0.0])
UP = -DOWN
FORWARD = np.array([0.0, 0.0, -1.0])
LEFT = np.array([1.0, 0.0, 0.0])

HIP_HALF, SHOULDER_HALF, TORSO = 0.10, 0.18, 0.50
UPPER_ARM, FOREARM, THIGH, SHIN = 0.30, 0.27, 0.45, 0.43


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _rot_x(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _arm(side: np.ndarray, elevation: float, forward: float, elbow: float) -> tuple:
    """Elbow and wrist offsets from the shoulder.

    ``elevation``: 0 down, 90 horizontal, 180 up; ``forward``: 0 out to the side,
    90 in front, -90 behind; ``elbow``: inner angle, the forearm bends towards the
    body's midline (or upwards when the arm points straight out sideways).
    """
    e, a = np.radians(elevation), np.radians(forward)
    upper = np.cos(e) * DOWN + np.sin(e) * (np.cos(a) * side + np.sin(a) * FORWARD)
    bend = -side - np.dot(-side, upper) * upper
    if np.linalg.norm(bend) < 1e-6:
        bend = UP - np.dot(UP, upper) * upper
    beta = np.radians(180.0 - elbow)
    fore = np.cos(beta) * upper + np.sin(beta) * _unit(bend)
    elbow_pos = UPPER_ARM * upper
    return elbow_pos, elbow_pos + FOREARM * fore, fore


def _leg(flex: float, knee: float) -> tuple:
    """Knee and ankle offsets from the hip: thigh ``flex`` degrees forward of down
    (negative = behind), the shin folding back by 180 - ``knee``."""

    def sagittal(deg: float) -> np.ndarray:
        return np.cos(np.radians(deg)) * DOWN + np.sin(np.radians(deg)) * FORWARD

    knee_pos = THIGH * sagittal(flex)
    return knee_pos, knee_pos + SHIN * sagittal(flex - (180.0 - knee))


def skeleton(
    *,
    left_arm_elevation: float = 0.0,
    right_arm_elevation: float = 0.0,
    left_arm_forward: float = 0.0,
    right_arm_forward: float = 0.0,
    left_elbow: float = 180.0,
    right_elbow: float = 180.0,
    left_hip_flex: float = 0.0,
    right_hip_flex: float = 0.0,
    left_knee: float = 180.0,
    right_knee: float = 180.0,
    torso_lean: float = 0.0,
    torso_pitch: float = 0.0,
    yaw: float = 0.0,
    rise: float = 0.0,
    stance: float = 0.0,
    heel_lift: float = 0.0,
    hidden: Sequence[int] = (),
    width: int = WIDTH,
    height: int = HEIGHT,
) -> tuple[np.ndarray, np.ndarray]:
    """Image landmarks (33, 4) and world landmarks (33, 3) for the given joint angles.

    ``torso_lean``: + towards the dancer's left; ``torso_pitch``: + bending forward;
    ``yaw``: whole body turned about the vertical axis; ``rise``: metres the whole
    body is lifted off the floor (image only: world landmarks are hip-centred); ``stance``:
    metres each foot is moved out to its side (the knee half as far); ``heel_lift``: metres
    both heels are raised above the toes; ``hidden``: landmark indices given visibility 0.05.
    """
    p = np.zeros((33, 3))
    shoulder_mid = TORSO * UP
    head = shoulder_mid + 0.15 * UP + 0.08 * FORWARD
    p[0] = head
    for i, (dx, dy) in enumerate([(0.02, -0.03), (0.035, -0.03), (0.05, -0.03)]):
        p[1 + i] = head + dx * LEFT + dy * DOWN  # left eye inner / eye / outer
        p[4 + i] = head - dx * LEFT + dy * DOWN
    p[7], p[8] = head + 0.08 * LEFT - 0.08 * FORWARD, head - 0.08 * LEFT - 0.08 * FORWARD  # ears
    p[9], p[10] = head + 0.025 * LEFT + 0.04 * DOWN, head - 0.025 * LEFT + 0.04 * DOWN
    arms = (
        (LEFT, left_arm_elevation, left_arm_forward, left_elbow),
        (-LEFT, right_arm_elevation, right_arm_forward, right_elbow),
    )
    for s, (side, elev, fwd, elbow) in enumerate(arms):
        shoulder = shoulder_mid + SHOULDER_HALF * side
        elbow_pos, wrist, fore = _arm(side, elev, fwd, elbow)
        p[11 + s], p[13 + s], p[15 + s] = shoulder, shoulder + elbow_pos, shoulder + wrist
        hand = shoulder + wrist + 0.08 * fore
        p[17 + s], p[19 + s], p[21 + s] = hand - 0.02 * side, hand, hand + 0.03 * FORWARD
    # The upper body (head, shoulders, arms) pivots about the hip centre.
    upper = list(range(0, 23))
    p[upper] = p[upper] @ (_rot_z(torso_lean) @ _rot_x(torso_pitch)).T
    legs = ((LEFT, left_hip_flex, left_knee), (-LEFT, right_hip_flex, right_knee))
    for s, (side, flex, knee) in enumerate(legs):
        hip = HIP_HALF * side
        knee_pos, ankle = _leg(flex, knee)
        p[23 + s], p[25 + s], p[27 + s] = hip, hip + knee_pos, hip + ankle
        p[29 + s] = hip + ankle + 0.05 * DOWN - 0.05 * FORWARD  # heel
        p[31 + s] = hip + ankle + 0.06 * DOWN + 0.15 * FORWARD  # foot index
        p[[25 + s]] += 0.5 * stance * side
        p[[27 + s, 29 + s, 31 + s]] += stance * side
        p[29 + s] += heel_lift * UP
    world = p @ _rot_y(yaw).T
    drop = THIGH + SHIN - world[[27, 28], 1].max()  # puts the lower ankle on the floor
    image = np.zeros((33, 4))
    image[:, 0] = 0.5 + world[:, 0] * PX_PER_M / width
    image[:, 1] = 0.5 + (world[:, 1] + drop - rise) * PX_PER_M / height
    image[:, 2] = world[:, 2] * PX_PER_M / width
    image[:, 3] = 0.99
    image[list(hidden), 3] = 0.05
    return image.astype(np.float32), world.astype(np.float32)


def frames(poses: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-frame ``skeleton(...)`` outputs into (n, 33, 4) and (n, 33, 3)."""
    return np.stack([p[0] for p in poses]), np.stack([p[1] for p in poses])


def track_of(
    poses: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    fps: float = FPS,
    frame_indices: Sequence[int] | None = None,
    track_id: int = 0,
) -> Track:
    """A Track from consecutive skeleton frames (or at ``frame_indices`` of a ``fps`` video)."""
    landmarks, world = frames(poses)
    indices = np.arange(len(poses)) if frame_indices is None else np.asarray(frame_indices)
    return Track(
        id=track_id,
        frame_indices=indices.astype(np.int64),
        times_s=indices / fps,
        landmarks=landmarks,
        world=world,
    )
