"""Video anonymisation: PyAV decode / encode (:mod:`.container`), face tracks
(:mod:`.tracker`), the two-pass pipeline (:mod:`.anonymise_video`)."""
from algorithms.video.anonymise_video import VideoResult, anonymise_video, face_detector
from algorithms.video.container import FORMATS, VideoError, VideoInfo, probe, sniff
from algorithms.video.tracker import TrackedBox, Tracker

__all__ = ["anonymise_video", "VideoResult", "face_detector", "VideoError", "VideoInfo",
           "probe", "sniff", "FORMATS", "Tracker", "TrackedBox"]
