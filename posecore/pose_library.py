"""Named poses as data: tables of measure ranges, scored per frame.

The default table is ``poses.yaml`` beside this module (its header explains the
format). A user JSON or YAML file with the same format adds poses or replaces
default ones by name (a replaced pose is replaced whole, not merged field by field).
Every file, the default included, is validated strictly; a problem raises
``PoseLibraryError`` with a one-line message naming the pose and the field.

Pose files come from users (an upload field), so parsing is bounded: a file above
``MAX_POSE_FILE_BYTES`` is refused unread (``PoseFileTooLarge``), and YAML/JSON deeper
than ``MAX_DEPTH`` or with more than ``MAX_NODES`` values (an alias counts as the values
it repeats) is refused while it is read. Messages describe a bad value by its type and
size ("got a list of 9 items"), never by echoing a large value.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from posecore.angles import ANGLES
from posecore.errors import PoseFileTooLarge, PoseLibraryError
from posecore.movements import MOVEMENT_NAMES
from posecore.stillness import PARTS

FALLBACK = "standing"  # a visible dancer in no named pose
RESERVED = frozenset({FALLBACK}) | MOVEMENT_NAMES  # labels made elsewhere (the fallback, movements.py)
DEFAULT_PATH = Path(__file__).with_name("poses.yaml")
DEFAULT_TOLERANCE = 10.0
MIN_VISIBILITY = 0.5
# The dancer counts as seen (so can be called "standing") when this measure's
# landmarks (both shoulders and hips) are visible.
SEEN_MEASURE = "torso_lean"

# Bounds on a pose file. The packaged table is 5 KB, 391 values, 4 levels deep.
MAX_POSE_FILE_BYTES = 256 * 1024
MAX_DEPTH = 16
MAX_NODES = 10_000  # ~0.1 s to read with libyaml's parser
_SHORT_REPR = 40  # a value whose repr is longer is described by its type in messages

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FIELDS = ("description", "priority", "tolerance", "rules", "still")

Range = tuple[float, float]


@dataclass(frozen=True)
class Pose:
    """One named pose: ``rules`` are alternatives, each a mapping measure -> [low, high]."""

    name: str
    description: str
    priority: int
    tolerance: float
    rules: tuple[Mapping[str, Range], ...]
    # Held poses: body part -> highest speed (torso lengths/s) at which the pose counts.
    still: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def specificity(self) -> int:
        """How many ranges must hold: breaks ties between equal priorities."""
        return max(len(alternative) for alternative in self.rules)

    def score(
        self,
        angles: Mapping[str, np.ndarray],
        confidences: Mapping[str, np.ndarray],
        min_visibility: float = MIN_VISIBILITY,
        speeds: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """Per-frame score in 0..1: the best alternative's weakest rule.

        With ``speeds`` (``stillness.part_speeds``), a pose with ``still`` parts scores 0
        where a part moves faster than allowed or its speed is unknown.
        """
        best: np.ndarray | None = None
        for alternative in self.rules:
            score: np.ndarray | None = None
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
            assert score is not None  # rules are never empty (parse_poses)
            best = score if best is None else np.maximum(best, score)
        assert best is not None
        if speeds is not None:
            for part, max_speed in self.still.items():
                with np.errstate(invalid="ignore"):
                    best = np.where(np.asarray(speeds[part]) <= max_speed, best, 0.0)
        return best

    def to_dict(self) -> dict:
        """JSON form, in the same format a pose file uses (so it loads back)."""
        found = {
            "description": self.description,
            "priority": self.priority,
            "tolerance": self.tolerance,
            "rules": [{name: list(r) for name, r in alt.items()} for alt in self.rules],
        }
        return {**found, "still": dict(self.still)} if self.still else found


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
        self,
        angles: Mapping[str, np.ndarray],
        confidences: Mapping[str, np.ndarray],
        *,
        speeds: Mapping[str, np.ndarray] | None = None,
        min_score: float = 0.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Label each frame from ``joint_angles``/``joint_confidences`` output.

        Returns ``labels`` (n,) object array of pose names, ``"standing"`` for a seen
        dancer in no named pose, ``None`` when nothing matched and the torso is not
        visible; and ``scores`` (n,) in 0..1: the winning pose's score, 1 for
        ``standing`` (no named pose came within tolerance), 0 for ``None``.

        ``min_score`` is the confidence floor: a frame whose best pose scores above 0
        but below it is near a named pose without being in it, so it gets ``None``
        (no label: a transition), never a guess. ``speeds`` (``stillness.part_speeds``)
        enforce the poses' ``still`` parts; without them those are not checked.
        """
        seen = np.asarray(confidences[SEEN_MEASURE]) >= self.min_visibility
        n = len(seen)
        labels: np.ndarray = np.full(n, None, dtype=object)
        scores = np.zeros(n)
        if self.poses:
            table = self.score_table(angles, confidences, speeds=speeds)
            best = np.argmax(table, axis=0)  # first maximum = highest precedence on ties
            scores = table[best, np.arange(n)]
            names = np.array(self.names, dtype=object)
            labels = np.where((scores > 0) & (scores >= min_score), names[best], np.array(None, dtype=object))
        fallback = (scores == 0) & seen
        labels[fallback] = FALLBACK
        scores[fallback] = 1.0
        return labels, scores

    def score_table(
        self,
        angles: Mapping[str, np.ndarray],
        confidences: Mapping[str, np.ndarray],
        *,
        speeds: Mapping[str, np.ndarray] | None = None,
    ) -> np.ndarray:
        """(poses, n) each pose's score per frame, rows in precedence order (``names``)."""
        return np.stack([p.score(angles, confidences, self.min_visibility, speeds) for p in self.poses.values()])

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
    """JSON or YAML text -> plain data, within the bounds; a syntax error becomes a one-line PoseLibraryError.

    Raises PoseFileTooLarge above MAX_POSE_FILE_BYTES (UTF-8), PoseLibraryError past MAX_DEPTH/MAX_NODES.
    """
    size = len(text) if len(text) > MAX_POSE_FILE_BYTES else len(text.encode("utf-8"))
    if size > MAX_POSE_FILE_BYTES:
        raise PoseFileTooLarge(f"pose file is larger than the limit of {MAX_POSE_FILE_BYTES // 1024} KB")
    try:
        if as_json:
            _check_json_depth(text)
            return json.loads(text)
        loader = _BoundedLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        kind = "JSON" if as_json else "YAML/JSON"
        raise PoseLibraryError(f"not valid {kind}: {_short(' '.join(str(err).split()), 300)}") from None
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        raise PoseLibraryError(f"not valid {'JSON' if as_json else 'YAML/JSON'}: {_short(str(err), 300)}") from None


_JSON_OPEN = np.zeros(256, dtype=np.int8)
_JSON_OPEN[[ord("["), ord("{")]] = 1
_JSON_OPEN[[ord("]"), ord("}")]] = -1
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _check_json_depth(text: str) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH before json.loads recurses into it."""
    # Brackets inside strings do not nest: drop the strings (an unclosed one is a syntax error later).
    structure = _JSON_STRING.sub("", text).encode("utf-8", "replace")
    if structure and int(np.cumsum(_JSON_OPEN[np.frombuffer(structure, dtype=np.uint8)]).max()) > MAX_DEPTH:
        raise PoseLibraryError(f"pose file is nested deeper than {MAX_DEPTH} levels")


try:  # libyaml's parser when installed: ~4x faster than PyYAML's
    from yaml._yaml import CParser as _EventSource
except ImportError:  # pragma: no cover

    class _EventSource(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


class _BoundedLoader(Composer, _EventSource, SafeConstructor, Resolver):
    """PyYAML's safe loader with a composer that counts values and nesting as it reads.

    The composer is PyYAML's (Python, recursive: the depth bound also keeps it off
    Python's recursion limit), the events come from libyaml's parser when available.
    An alias counts as all the values of its anchor, so a "billion laughs" file of
    nested aliases stops at MAX_NODES; an alias inside its own anchor is refused.
    """

    def __init__(self, text: str) -> None:
        _EventSource.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._nodes = 0
        self._depth = 0
        self._anchor_nodes: dict[str, int] = {}  # anchor -> values in it, once it is complete

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        anchor: str | None = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent):
            if anchor in self.anchors and anchor not in self._anchor_nodes:
                raise PoseLibraryError("pose file has an alias inside its own anchor")
            self._count(self._anchor_nodes.get(anchor or "", 0))  # an unknown one: PyYAML's error next
            return super().compose_node(parent, index)
        self._count(1)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise PoseLibraryError(f"pose file is nested deeper than {MAX_DEPTH} levels")
        before = self._nodes
        node = super().compose_node(parent, index)
        self._depth -= 1
        if anchor is not None:
            self._anchor_nodes[anchor] = self._nodes - before + 1
        return node

    def _count(self, nodes: int) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise PoseLibraryError(f"pose file has more than {MAX_NODES} values (aliases count as what they repeat)")


def parse_poses(data: Any) -> dict[str, Pose]:
    """Validate a pose table (name -> definition) into ``Pose`` objects."""
    if not isinstance(data, Mapping) or not data:
        raise PoseLibraryError("a pose file must be a non-empty mapping of pose names to definitions")
    return {name: _parse_pose(name, spec) for name, spec in data.items()}


def _parse_pose(name: Any, spec: Any) -> Pose:
    if not isinstance(name, str) or not _NAME.match(name):
        raise PoseLibraryError(f"pose {_describe(name)}: name must be lower_snake_case (a-z, 0-9, _)")
    if name in RESERVED:
        raise PoseLibraryError(f"pose {name!r}: name is reserved ({', '.join(sorted(RESERVED))})")

    def fail(field: str, problem: str) -> PoseLibraryError:
        return PoseLibraryError(f"pose {name!r}: {field}: {problem}")

    if not isinstance(spec, Mapping):
        raise fail("definition", f"must be a mapping with {', '.join(_FIELDS)}")
    unknown = sorted(_short(str(k), _SHORT_REPR) for k in spec if k not in _FIELDS)
    if unknown:
        raise fail(unknown[0], f"unknown field (allowed: {', '.join(_FIELDS)})")
    description = spec.get("description", "")
    if not isinstance(description, str):
        raise fail("description", "must be text")
    priority = spec.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise fail("priority", f"must be an integer, got {_describe(priority)}")
    tolerance = spec.get("tolerance", DEFAULT_TOLERANCE)
    if not _is_number(tolerance) or not 0 <= tolerance <= 180:
        raise fail("tolerance", f"must be a number from 0 to 180, got {_describe(tolerance)}")
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
            MappingProxyType(
                {k: _parse_range(k, v, f"{where}.{_short(str(k), _SHORT_REPR)}", fail) for k, v in alternative.items()}
            )
        )
    return Pose(name, description, priority, tolerance, tuple(parsed), _parse_still(spec.get("still", {}), fail))


def _parse_still(value: Any, fail: Callable[[str, str], PoseLibraryError]) -> Mapping[str, float]:
    """``still``: body part (``stillness.PARTS``) -> highest speed in torso lengths per second."""
    if not isinstance(value, Mapping):
        raise fail("still", f"must be a mapping of body part ({', '.join(PARTS)}) to a speed, got {_describe(value)}")
    for part, speed in value.items():
        if part not in PARTS:
            raise fail(f"still.{_short(str(part), _SHORT_REPR)}", f"unknown body part (known: {', '.join(PARTS)})")
        if not _is_number(speed) or speed < 0:
            raise fail(f"still.{part}", f"must be a speed >= 0 (torso lengths per second), got {_describe(speed)}")
    return MappingProxyType({str(k): float(v) for k, v in value.items()})


def _parse_range(measure: Any, value: Any, field: str, fail: Callable[[str, str], PoseLibraryError]) -> Range:
    if measure not in ANGLES:
        raise fail(field, f"unknown measure (known: {', '.join(ANGLES)})")
    if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(map(_is_number, value)):
        raise fail(field, f"must be [low, high] numbers, got {_describe(value)}")
    low, high = value
    if low > high:
        raise fail(field, f"low must not exceed high, got [{low}, {high}]")
    return low, high


def _describe(value: Any) -> str:
    """A value for an error message: its repr when short, else its type and size (never the value itself)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        text = repr(value) if not isinstance(value, int) or value.bit_length() < 128 else ""
        if 0 < len(text) <= _SHORT_REPR:
            return text
    if isinstance(value, (list, tuple)):
        # Items by type only: a repr of nested lists may be huge (or, with aliases, shared and endless).
        items = ", ".join(_type_name(v) for v in value[:3]) + (", ..." if len(value) > 3 else "")
        return f"a list of {len(value)} item{'s' * (len(value) != 1)} [{items}]"
    if isinstance(value, Mapping):
        return f"a mapping of {len(value)} key{'s' * (len(value) != 1)}"
    if isinstance(value, str):
        return f"a text of {len(value)} characters"
    if isinstance(value, int):
        return f"an integer of {value.bit_length()} bits"
    return f"a {_type_name(value)}"


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "text", list: "list", dict: "mapping"}
    return names.get(type(value), type(value).__name__)


def _short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: Any) -> bool:
    """A finite int or float (not a bool, not an int too large for a float: numpy could not compare it)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
