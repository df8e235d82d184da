"""``POST /compare``'s request: the multipart form, its query parameters and how they are read."""

from __future__ import annotations

from typing import Any

from fastapi import Request, UploadFile
from pydantic import Field

from posecore.comparison import CompareOptions, parse_result_json
from posecore.options import AnalysisOptions
from posecore.pose_library import MAX_POSE_FILE_BYTES
from serve_app.http_errors import ApiError

FILE_FIELDS = ("reference", "reference_result", "performance")


class CompareQuery(CompareOptions, AnalysisOptions):
    """The options of ``POST /compare``: the comparison's and the analysis options of both videos."""


class CompareForm(CompareQuery):
    """``POST /compare``'s multipart form: the reference (a video or an earlier result), the performance, options."""

    model_config = {**CompareQuery.model_config, "frozen": False}
    reference: UploadFile | None = Field(None, description="The reference video (or send reference_result).")
    reference_result: UploadFile | str | None = Field(
        None, description="Instead of reference: the JSON of an earlier /analyze with include_landmarks (file or text)."
    )
    performance: UploadFile = Field(description="The performance video, scored against the reference.")
    poses: UploadFile | str | None = Field(  # type: ignore[assignment]
        None, description="Pose definitions to add for this request: a JSON/YAML file or its text (poses.yaml format)."
    )


async def read_compare_form(
    request: Request, form: CompareForm, query: CompareQuery
) -> tuple[bytes | dict[str, Any], bytes, dict[str, Any]]:
    """The reference (video bytes or a result dict), the performance's bytes and the options (form wins)."""
    parts = await request.form()  # parsed once already; cached
    for name in ("reference", "performance"):
        if len(parts.getlist(name)) > 1:
            raise ApiError("multiple_videos", f'send one file in the field "{name}" per request')
    if (form.reference is None) == (form.reference_result is None):
        code = "missing_reference" if form.reference is None else "two_references"
        raise ApiError(code, 'send either a video in "reference" or an earlier result in "reference_result"')
    reference: bytes | dict[str, Any]
    if form.reference is not None:
        reference = await form.reference.read()
    elif isinstance(form.reference_result, str):
        reference = parse_result_json(form.reference_result)
    else:
        assert form.reference_result is not None
        reference = parse_result_json(await form.reference_result.read())
    performance = await form.performance.read()
    options = query.model_dump(exclude_unset=True) | form.model_dump(
        exclude_unset=True, exclude={*FILE_FIELDS, "poses"}
    )
    if isinstance(form.poses, str):
        options["poses"] = form.poses
    elif form.poses is not None:  # a file part: past the cap it is refused unread (poses_too_large)
        options["poses"] = await form.poses.read(MAX_POSE_FILE_BYTES + 1)
    return reference, performance, options
