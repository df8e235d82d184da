"""posecore: dance-video pose analysis, from video bytes to named poses over time.

Pure library (no Ray): video decoding, the MediaPipe pose model, joint angles,
the pose vocabulary and temporal aggregation. The Serve app composes these pieces.
"""

from posecore.analysis import analyze_video, detect_frames
from posecore.errors import PoseCoreError
from posecore.options import AnalysisOptions
from posecore.pose_library import PoseLibrary
from posecore.video import VideoInfo, VideoLimits, probe

__all__ = [
    "AnalysisOptions",
    "PoseCoreError",
    "PoseLibrary",
    "VideoInfo",
    "VideoLimits",
    "analyze_video",
    "detect_frames",
    "probe",
]
