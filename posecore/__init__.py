"""posecore: dance-video pose analysis, from video bytes to named poses over time.

Pure library (no Ray): video decoding, the MediaPipe pose model, joint angles,
the pose vocabulary, temporal aggregation, and the pipeline that runs them in
steps (``posecore.pipeline``). The Serve app composes the same steps.
"""

from posecore.errors import PoseCoreError
from posecore.options import AnalysisOptions
from posecore.pipeline import analyze_video
from posecore.pose_library import PoseLibrary
from posecore.result import AnalysisResult
from posecore.video import VideoInfo, VideoLimits, probe

__all__ = [
    "AnalysisOptions",
    "AnalysisResult",
    "PoseCoreError",
    "PoseLibrary",
    "VideoInfo",
    "VideoLimits",
    "analyze_video",
    "probe",
]
