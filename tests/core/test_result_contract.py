"""The README's "Result" is the contract: every field it shows keeps its name and type."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from posecore.result import AnalysisResult

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_result() -> dict[str, Any]:
    """The README's example result, with its "..." elisions dropped so it parses as JSON."""
    block = re.search(r"### Result\n\n```json\n(.*?)```", README.read_text(), re.S)
    assert block, "the README has a ### Result section with a json block"
    return json.loads(re.sub(r",\s*\.\.\.\d*", "", block.group(1)))


def leaves(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """(path, JSON type) of every value in a JSON document; list items by position."""
    yield path, type(value).__name__
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, (*path, i))


def test_every_readme_field_keeps_its_name_and_type() -> None:
    example = readme_result()
    # Strict: a float where the model has an int (or text for a number) fails here.
    result = AnalysisResult.model_validate(example, strict=True)
    served = dict(leaves(result.to_dict()))
    for path, kind in leaves(example):
        assert path in served, f"README field {'.'.join(map(str, path))} is not in the result model"
        assert served[path] == kind, f"{'.'.join(map(str, path))}: README says {kind}, the model gives {served[path]}"


def test_a_renamed_or_retyped_field_would_be_caught() -> None:
    example = readme_result()
    example["dancers"][0]["frames_detected"] = 505.5  # an int field given a float
    try:
        AnalysisResult.model_validate(example, strict=True)
    except ValueError:
        pass
    else:
        raise AssertionError("a float frames_detected must not validate")
    documented = readme_result()
    documented["video"]["frame_total"] = 514  # a field the model does not have (e.g. renamed)
    served = dict(leaves(AnalysisResult.model_validate(documented).to_dict()))
    assert ("video", "frame_total") not in served  # the walk above reports it
