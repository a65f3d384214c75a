"""Speed of video anonymisation at 1080p, against the decode + encode floor, in one run.

The video: benchmarks/video_scene.py at 1920 x 1080, 24 fps (real portraits moving, turning
away, occluded, a cut; a sine-wave AAC track), H.264 CRF 18. Measured:

1. the floor: decode, then encode every frame as decoded (libx264 veryfast, CRF 20, yuv420p,
   audio copied): what any re-encoding anonymiser costs;
2. the full pipeline (:func:`algorithms.video.anonymise_video`) with detection on every
   frame and on every 2nd / 3rd frame: frames per second, ratio to the floor, where the time
   goes (detector, anonymiser, the rest = decode twice + colour conversion + encode), and
   the missed-frame count against the scene's ground truth (a frame where a face is less
   than 80 % inside the masks); also without tracking.

Usage: .venv/bin/python benchmarks/anonymise_video.py [--frames 96]
Goal (issue 9): >= 25 fps at 1080p.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def covered(face_box, boxes) -> float:
    import numpy as np
    x0, y0, x1, y1 = (int(round(v)) for v in face_box)
    grid = np.zeros((max(1, y1 - y0), max(1, x1 - x0)), bool)
    for b in boxes:
        bx0, by0, bx1, by1 = b.box
        pad = 0.1 * max(bx1 - bx0, by1 - by0)
        grid[max(0, int(by0 - pad) - y0):max(0, int(by1 + pad + 1) - y0),
             max(0, int(bx0 - pad) - x0):max(0, int(bx1 + pad + 1) - x0)] = True
    return float(grid.mean())


def missed(result, truth) -> int:
    return sum(any(covered(f.box, boxes) < 0.8 for f in faces)
               for faces, boxes in zip(truth, result.boxes))


def floor(src: Path, dst: Path) -> float:
    from algorithms.video.container import Writer, decode, open_video, probe
    info = probe(src)
    t0 = time.perf_counter()
    with open_video(src) as c, Writer(dst, c, info.width, info.height) as w:
        for kind, item in decode(c, with_audio=True):
            if kind == "audio":
                w.mux_audio(item)
            else:
                item.pict_type = av.video.frame.PictureType.NONE
                w.encode(item)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=96)
    args = ap.parse_args(argv)
    import importlib
    module = importlib.import_module("algorithms.video.anonymise_video")
    from algorithms.video.anonymise_video import anonymise_video, face_detector
    from benchmarks.video_scene import Scene, write_video

    scene = Scene(1920, 1080, frames=args.frames, fps=24)
    truth = scene.truth()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = write_video(tmp / "scene.mp4", scene)
        n = scene.frames
        face_detector()(scene.frame(0)[0])                        # warm the interpreters
        t_floor = min(floor(src, tmp / "floor.mp4") for _ in range(2))
        print(f"1080p, {n} frames, 3 faces of ~190-260 px per frame, {1} cut")
        print(f"floor (decode + encode):          {n / t_floor:6.1f} fps")
        timing = {"detect": 0.0, "anonymise": 0.0}
        base = face_detector()
        original = module.anonymise

        def timed_detect(rgb):
            t = time.perf_counter()
            out = base(rgb)
            timing["detect"] += time.perf_counter() - t
            return out

        def timed_anonymise(*a, **kw):
            t = time.perf_counter()
            out = original(*a, **kw)
            timing["anonymise"] += time.perf_counter() - t
            return out

        module.anonymise = timed_anonymise
        try:
            for k, tracking in ((1, True), (2, True), (3, True), (1, False)):
                timing.update(detect=0.0, anonymise=0.0)
                t0 = time.perf_counter()
                r = anonymise_video(src, tmp / "out.mp4", detector=timed_detect,
                                    detect_every=k, tracking=tracking)
                total = time.perf_counter() - t0
                rest = total - timing["detect"] - timing["anonymise"]
                print(f"pipeline k={k} tracking={'on ' if tracking else 'off'}: "
                      f"{n / total:6.1f} fps  ratio to floor {total / t_floor:4.2f}  "
                      f"missed frames {missed(r, truth):2d}/{n}  | per frame: detector "
                      f"{timing['detect'] / r.detector_frames * 1000:5.1f} ms x "
                      f"{r.detector_frames / n:.2f}, anonymise "
                      f"{timing['anonymise'] / n * 1000:4.1f} ms, decode x2 + convert + "
                      f"encode {rest / n * 1000:4.1f} ms")
        finally:
            module.anonymise = original
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
