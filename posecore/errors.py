"""Typed errors for everything the analysis core can reject.

Each error carries a stable machine-readable ``code`` (used verbatim in the CLI's
one-line message and in the HTTP API's ``{"error": {"code", "message"}}`` body)
and a human message. The core knows nothing about HTTP; the Serve app maps codes
to status codes.
"""

from __future__ import annotations


class PoseCoreError(Exception):
    """Base class: an input or configuration problem the caller can act on."""

    code: str = "analysis_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class VideoError(PoseCoreError):
    """The upload cannot be analysed as a video."""

    code = "invalid_video"


class EmptyUpload(VideoError):
    """Zero bytes where a video was expected."""

    code = "empty_upload"


class NotAVideo(VideoError):
    """Unreadable bytes: not a container format we can open."""

    code = "not_a_video"


class NoVideoStream(VideoError):
    """A readable container (e.g. audio only) without a video stream."""

    code = "no_video_stream"


class EmptyVideo(VideoError):
    """A video stream with zero frames (or none that decode)."""

    code = "no_frames"


class VideoTooLong(VideoError):
    """Duration above the configured limit."""

    code = "video_too_long"


class TooManyPixels(VideoError):
    """Frame size (width x height) above the configured limit."""

    code = "too_many_pixels"


class TooManyFrames(VideoError):
    """More frames, or a higher frame rate, than the configured limits."""

    code = "too_many_frames"


class PoseLibraryError(PoseCoreError):
    """A user pose-definition file is malformed."""

    code = "invalid_pose_library"


class PoseFileTooLarge(PoseLibraryError):
    """A pose file above ``pose_library.MAX_POSE_FILE_BYTES``, refused before parsing."""

    code = "poses_too_large"


class ModelError(PoseCoreError):
    """The pose model could not be found, built or loaded."""

    code = "model_unavailable"


class InvalidOptions(PoseCoreError):
    """An analysis option is of the wrong type or out of range."""

    code = "invalid_options"
