"""Video anonymisation: PyAV decode / encode (:mod:`.container`), frames as YUV planes
(:mod:`.frames`), the video face detector (:mod:`.faces`), face tracks (:mod:`.tracker`),
the two-pass pipeline (:mod:`.anonymise_video`)."""
from algorithms.video.anonymise_video import VideoResult, anonymise_video
from algorithms.video.container import FORMATS, VideoError, VideoInfo, probe, sniff
from algorithms.video.faces import face_detector
from algorithms.video.tracker import TrackedBox, Tracker

__all__ = ["anonymise_video", "VideoResult", "face_detector", "VideoError", "VideoInfo",
           "probe", "sniff", "FORMATS", "Tracker", "TrackedBox"]
