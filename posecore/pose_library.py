"""Named poses as data: tables of measure ranges, scored per frame.

The default table is ``poses.yaml`` beside this module (its header explains the
format). A user JSON or YAML file with the same format adds poses or replaces
default ones by name (a replaced pose is replaced whole, not merged field by field).
Every file, the default included, is validated strictly; a problem raises
``PoseLibraryError`` with a one-line message naming the pose and the field.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

from posecore.angles import ANGLES
from posecore.errors import PoseLibraryError

FALLBACK = "standing"  # a visible dancer in no named pose
RESERVED = frozenset({FALLBACK, "jump", "turn"})  # labels made elsewhere (fallback, movements.py)
DEFAULT_PATH = Path(__file__).with_name("poses.yaml")
DEFAULT_TOLERANCE = 10.0
MIN_VISIBILITY = 0.5
# The dancer counts as seen (so can be called "standing") when this measure's
# landmarks (both shoulders and hips) are visible.
SEEN_MEASURE = "torso_lean"

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FIELDS = ("description", "priority", "tolerance", "rules")

Range = tuple[float, float]


@dataclass(frozen=True)
class Pose:
    """One named pose: ``rules`` are alternatives, each a mapping measure -> [low, high]."""

    name: str
    description: str
    priority: int
    tolerance: float
    rules: tuple[Mapping[str, Range], ...]

    @property
    def specificity(self) -> int:
        """How many ranges must hold: breaks ties between equal priorities."""
        return max(len(alternative) for alternative in self.rules)

    def score(
        self,
        angles: Mapping[str, np.ndarray],
        confidences: Mapping[str, np.ndarray],
        min_visibility: float = MIN_VISIBILITY,
    ) -> np.ndarray:
        """Per-frame score in 0..1: the best alternative's weakest rule."""
        best = None
        for alternative in self.rules:
            score = None
            for name, (low, high) in alternative.items():
                value = np.asarray(angles[name], dtype=np.float64)
                outside = np.maximum(np.maximum(low - value, value - high), 0.0)
                if self.tolerance > 0:
                    rule = np.clip(1.0 - outside / self.tolerance, 0.0, 1.0)
                else:
                    rule = (outside == 0).astype(np.float64)
                usable = np.isfinite(value) & (np.asarray(confidences[name]) >= min_visibility)
                rule = np.where(usable, rule, 0.0)
                score = rule if score is None else np.minimum(score, rule)
            best = score if best is None else np.maximum(best, score)
        return best

    def to_dict(self) -> dict:
        """JSON form, in the same format a pose file uses (so it loads back)."""
        return {
            "description": self.description,
            "priority": self.priority,
            "tolerance": self.tolerance,
            "rules": [{name: list(r) for name, r in alt.items()} for alt in self.rules],
        }


class PoseLibrary:
    """An immutable set of named poses that labels frames from their measures."""

    def __init__(self, poses: Mapping[str, Pose], min_visibility: float = MIN_VISIBILITY) -> None:
        # Precedence for equal scores: higher priority, then more specific, then name.
        ordered = sorted(poses.values(), key=lambda p: (-p.priority, -p.specificity, p.name))
        self.poses: Mapping[str, Pose] = MappingProxyType({p.name: p for p in ordered})
        self.min_visibility = min_visibility

    @classmethod
    def default(cls) -> PoseLibrary:
        """The packaged ``poses.yaml`` table."""
        return cls(_default_poses())

    @classmethod
    def load(cls, source: str | Path | Mapping[str, Any], base: PoseLibrary | None = None) -> PoseLibrary:
        """``base`` (default: the packaged table) plus the poses in a user file or mapping.

        A ``.json`` file is read as JSON, ``.yaml``/``.yml`` as YAML. Poses with a name
        already in ``base`` replace it whole.
        """
        if isinstance(source, Mapping):
            return cls._extend(base, parse_poses(source))
        path = Path(source)
        suffix = path.suffix.lower()
        if suffix not in (".json", ".yaml", ".yml"):
            raise PoseLibraryError(f"{path.name}: pose file must end in .json, .yaml or .yml")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise PoseLibraryError(f"{path.name}: cannot read pose file: {err}") from None
        try:
            poses = parse_poses(_parse_text(text, as_json=suffix == ".json"))
        except PoseLibraryError as err:
            raise PoseLibraryError(f"{path.name}: {err.message}") from None
        return cls._extend(base, poses)

    def extended(self, poses: str | bytes | Mapping[str, Any] | None) -> PoseLibrary:
        """This library plus a request's own poses (JSON/YAML text, or a mapping); itself if none."""
        if poses is None or poses in ("", b"", {}):
            return self
        if isinstance(poses, (str, bytes)):
            return PoseLibrary.loads(poses, base=self)
        return PoseLibrary.load(poses, base=self)

    @classmethod
    def loads(cls, text: str | bytes, base: PoseLibrary | None = None) -> PoseLibrary:
        """Like ``load`` for the contents of a JSON or YAML file (e.g. an upload)."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise PoseLibraryError("pose file is not UTF-8 text") from None
        return cls._extend(base, parse_poses(_parse_text(text, as_json=False)))

    @classmethod
    def _extend(cls, base: PoseLibrary | None, poses: dict[str, Pose]) -> PoseLibrary:
        base = base or cls.default()
        return cls({**base.poses, **poses}, base.min_visibility)

    @property
    def names(self) -> list[str]:
        """Pose names in precedence order."""
        return list(self.poses)

    def classify(
        self, angles: Mapping[str, np.ndarray], confidences: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Label each frame from ``joint_angles``/``joint_confidences`` output.

        Returns ``labels`` (n,) object array of pose names, ``"standing"`` for a seen
        dancer in no named pose, ``None`` when nothing matched and the torso is not
        visible; and ``scores`` (n,) in 0..1: the winning pose's score, 1 for
        ``standing`` (no named pose came within tolerance), 0 for ``None``.
        """
        seen = np.asarray(confidences[SEEN_MEASURE]) >= self.min_visibility
        n = len(seen)
        labels = np.full(n, None, dtype=object)
        scores = np.zeros(n)
        if self.poses:
            table = np.stack([p.score(angles, confidences, self.min_visibility) for p in self.poses.values()])
            best = np.argmax(table, axis=0)  # first maximum = highest precedence on ties
            scores = table[best, np.arange(n)]
            names = np.array(self.names, dtype=object)
            labels = np.where(scores > 0, names[best], None)
        fallback = (scores == 0) & seen
        labels[fallback] = FALLBACK
        scores[fallback] = 1.0
        return labels, scores

    def to_dict(self) -> dict:
        """The library for GET /poses: poses (precedence order) and the measures they use."""
        return {
            "fallback": FALLBACK,
            "min_visibility": self.min_visibility,
            "poses": {name: pose.to_dict() for name, pose in self.poses.items()},
            "angles": {name: d.to_dict() for name, d in ANGLES.items()},
        }


@functools.cache
def _default_poses() -> dict[str, Pose]:
    try:
        return parse_poses(_parse_text(DEFAULT_PATH.read_text(encoding="utf-8"), as_json=False))
    except PoseLibraryError as err:
        raise PoseLibraryError(f"{DEFAULT_PATH.name}: {err.message}") from None


def _parse_text(text: str, *, as_json: bool) -> Any:
    """JSON or YAML text -> plain data; a syntax error becomes a one-line PoseLibraryError."""
    try:
        return json.loads(text) if as_json else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        kind = "JSON" if as_json else "YAML/JSON"
        raise PoseLibraryError(f"not valid {kind}: {' '.join(str(err).split())}") from None


def parse_poses(data: Any) -> dict[str, Pose]:
    """Validate a pose table (name -> definition) into ``Pose`` objects."""
    if not isinstance(data, Mapping) or not data:
        raise PoseLibraryError("a pose file must be a non-empty mapping of pose names to definitions")
    return {name: _parse_pose(name, spec) for name, spec in data.items()}


def _parse_pose(name: Any, spec: Any) -> Pose:
    if not isinstance(name, str) or not _NAME.match(name):
        raise PoseLibraryError(f"pose {name!r}: name must be lower_snake_case (a-z, 0-9, _)")
    if name in RESERVED:
        raise PoseLibraryError(f"pose {name!r}: name is reserved ({', '.join(sorted(RESERVED))})")

    def fail(field: str, problem: str) -> PoseLibraryError:
        return PoseLibraryError(f"pose {name!r}: {field}: {problem}")

    if not isinstance(spec, Mapping):
        raise fail("definition", f"must be a mapping with {', '.join(_FIELDS)}")
    unknown = sorted(str(k) for k in spec if k not in _FIELDS)
    if unknown:
        raise fail(unknown[0], f"unknown field (allowed: {', '.join(_FIELDS)})")
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise fail("description", "must be text")
    priority = spec.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise fail("priority", f"must be an integer, got {priority!r}")
    tolerance = spec.get("tolerance", DEFAULT_TOLERANCE)
    if not _is_number(tolerance) or not 0 <= tolerance <= 180:
        raise fail("tolerance", f"must be a number from 0 to 180, got {tolerance!r}")
    if "rules" not in spec:
        raise fail("rules", "missing")
    rules = spec["rules"]
    alternatives = rules if isinstance(rules, list) else [rules]
    if not alternatives:
        raise fail("rules", "must not be empty")
    parsed = []
    for i, alternative in enumerate(alternatives):
        where = f"rules[{i}]" if isinstance(rules, list) else "rules"
        if not isinstance(alternative, Mapping) or not alternative:
            raise fail(where, "must be a non-empty mapping of measure name to [low, high]")
        parsed.append(
            MappingProxyType({k: _parse_range(k, v, f"{where}.{k}", fail) for k, v in alternative.items()})
        )
    return Pose(name, description, priority, tolerance, tuple(parsed))


def _parse_range(
    measure: Any, value: Any, field: str, fail: Callable[[str, str], PoseLibraryError]
) -> Range:
    if measure not in ANGLES:
        raise fail(field, f"unknown measure (known: {', '.join(ANGLES)})")
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(map(_is_number, value)):
        raise fail(field, f"must be [low, high] numbers, got {value!r}")
    low, high = value
    if low > high:
        raise fail(field, f"low must not exceed high, got [{low}, {high}]")
    return low, high


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
