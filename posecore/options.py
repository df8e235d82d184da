"""The analysis options: one model for the CLI, the HTTP API (form fields and query
parameters) and the Python handle, with every default and range in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from posecore.errors import InvalidOptions

MAX_PEOPLE = 10  # also what "auto" looks for
MAX_SAMPLE_FPS = 240.0

MaxPeople = Annotated[int, Field(ge=1, le=MAX_PEOPLE)] | Literal["auto"]


def people_cap(max_people: int | str | None) -> int:
    """The number of people to look for: ``max_people``, or ``MAX_PEOPLE`` for "auto"/None.

    Raises:
        ValueError: not an int in 1..MAX_PEOPLE, "auto" or None.
    """
    if max_people is None or max_people == "auto":
        return MAX_PEOPLE
    if isinstance(max_people, bool) or not isinstance(max_people, int) or not 1 <= max_people <= MAX_PEOPLE:
        raise ValueError(f"max_people must be 1..{MAX_PEOPLE}, 'auto' or None, got {max_people!r}")
    return max_people


class AnalysisOptions(BaseModel):
    """What to analyse and what to return."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # a misspelt option is an error, not ignored

    sample_fps: float | None = Field(
        None, gt=0, le=MAX_SAMPLE_FPS, description="Frames per second to analyse (default: every frame)."
    )
    max_people: MaxPeople = Field(
        1,
        description=f"People to track, 1-{MAX_PEOPLE}, or 'auto': everyone found, up to {MAX_PEOPLE}. "
        "Above 1, people are looked for on tiles of the frame every 0.5 s and each is followed in a crop.",
    )
    include_landmarks: bool = Field(False, description="Add the per-frame landmarks and joint angles.")
    min_pose_duration_s: float = Field(0.2, ge=0, le=60, description="Shortest pose segment reported, seconds.")
    min_confidence: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Confidence floor, 0-1: frames matching a pose less well are left unlabelled (a transition), "
        "and no pose segment below it is reported.",
    )
    min_dancer_s: float = Field(
        1.0,
        ge=0,
        le=60,
        description="A person seen for less than this many seconds is joined to the dancer they continue, or dropped.",
    )
    smoothing: bool = Field(True, description="One-Euro jitter filter on the landmarks.")
    include_thumbnails: bool = Field(False, description="Add a small JPEG of each key pose.")
    poses: str | bytes | Mapping[str, Any] | None = Field(
        None,
        description="Pose definitions to add for this request: JSON or YAML text in the poses.yaml format "
        "(or, from Python, a mapping).",
    )

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> AnalysisOptions:
        """Options from a handle call or a merged form: strict types, a one-line ``InvalidOptions`` if wrong."""
        try:
            return cls.model_validate(dict(options), strict=True)
        except ValidationError as err:
            raise InvalidOptions(describe_problems(err)) from None

    def frame_step_s(self, native_fps: float) -> float:
        """Time between two analysed frames."""
        if self.sample_fps is None or self.sample_fps >= native_fps:
            return 1.0 / native_fps
        return 1.0 / self.sample_fps


def describe_problems(err: ValidationError) -> str:
    """Pydantic's errors as one line: ``field: problem; ...`` (values are never echoed)."""
    problems = []
    for problem in err.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in problem["loc"]) or "options"
        if problem["type"] == "extra_forbidden":
            known = ", ".join(AnalysisOptions.model_fields)
            problems.append(f"unknown option {field} (known: {known})")
        else:
            problems.append(f"{field}: {problem['msg']}")
    return "; ".join(problems)
