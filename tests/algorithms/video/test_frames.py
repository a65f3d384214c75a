"""Frames as YUV planes: faces hidden in the planes look as the photo anonymiser hides them,
every other pixel is left as decoded; rotated sources come out upright."""
from __future__ import annotations

import av
import numpy as np
import pytest
from shapely import affinity
from shapely.geometry import Point

from algorithms.detect.anonymise import AnonymiseOptions, anonymise
from algorithms.detect.types import Detected
from algorithms.video import anonymise_video, probe
from algorithms.video.container import to_rgb
from algorithms.video.frames import hide, planes, rotation, thumbnail, upright
from benchmarks.video_scene import Scene, missed_frames, write_video


@pytest.fixture(scope="module")
def frame(face_models):
    rgb, faces = Scene(640, 360, frames=30).frame(4)
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p"), faces


def oval_detection(box) -> Detected:
    x0, y0, x1, y1 = box
    oval = affinity.scale(Point((x0 + x1) / 2, (y0 + y1) / 2).buffer(1, 32),
                          (x1 - x0) / 2, (y1 - y0) / 2)
    return Detected("face", 0.9, oval, tuple(box), "contour")


@pytest.mark.parametrize("options", [
    AnonymiseOptions(), AnonymiseOptions(shape="box", blur_strength=1.0),
    AnonymiseOptions(method="fill", fill_color=(200, 30, 30)),
    AnonymiseOptions(method="pixelate"), AnonymiseOptions(method="blur", edge_softness=0.0,
                                                          padding=0.3)],
    ids=["blur", "blur-box", "fill", "pixelate", "blur-hard-edge"])
def test_hidden_in_the_planes_as_the_photo_anonymiser_hides_it(frame, options):
    yuv_frame, faces = frame
    dets = [oval_detection(f.box) for f in faces]
    photo, mask, _ = anonymise(to_rgb(yuv_frame), dets, options=options)
    out, yuv = upright(planes(yuv_frame), 0)
    for d in dets:
        assert hide(yuv, d, options)
    mine = to_rgb(out)
    diff = np.abs(photo.astype(int) - mine.astype(int))
    inside = mask == 255
    # the same effect (4:2:0 chroma and the mask drawn at chroma resolution: a few levels)
    assert diff[inside].mean() < (4.0 if options.method == "pixelate" else 1.5)
    # and every pixel the photo's mask does not reach (a 2 px ring aside) is as decoded
    far = np.ones_like(mask, bool)
    ys, xs = np.nonzero(mask)
    far[max(0, ys.min() - 2):ys.max() + 3, max(0, xs.min() - 2):xs.max() + 3] = False
    far_chroma = far[0::2, 0::2] & far[1::2, 1::2] & far[0::2, 1::2] & far[1::2, 0::2]
    for src, dst, where in zip(planes(yuv_frame), yuv, (far, far_chroma, far_chroma)):
        assert np.array_equal(src[where], dst[where])


def test_faces_at_and_past_the_frame_edge(frame):
    yuv_frame, _ = frame
    out, yuv = upright(planes(yuv_frame), 0)
    before = [p.copy() for p in yuv]
    assert hide(yuv, oval_detection((-60, -40, 80, 120)))          # the top-left corner
    assert hide(yuv, oval_detection((600, 300, 700, 420)))         # past the bottom right
    assert not hide(yuv, oval_detection((700, 400, 800, 500)))     # off the frame
    assert not hide(yuv, oval_detection((100, 100, 200, 200)),
                    AnonymiseOptions(method="detect"))
    assert not np.array_equal(before[0][:60, :60], yuv[0][:60, :60])
    assert not np.array_equal(before[0][-20:, -20:], yuv[0][-20:, -20:])
    assert np.array_equal(before[0][150:250, 250:450], yuv[0][150:250, 250:450])
    assert np.isfinite(thumbnail(yuv).astype(float)).all() and thumbnail(yuv).shape == (18, 32, 3)


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_a_rotated_video_comes_out_upright(tmp_path, turn, face_models):
    """A phone video: frames stored turned, a display matrix to turn them back. The output
    is upright (the scene as a player shows the source), with no display matrix, its
    faces found and masked where they are upright."""
    scene = Scene(320, 180, frames=12, fps=24)
    src = write_video(tmp_path / "phone.mov", scene, fmt="mov", rotation=turn)
    with av.open(str(src)) as c:
        first = next(c.decode(video=0))
        assert rotation(first) == turn
        stored = (first.width, first.height)
    assert stored == ((180, 320) if turn in (90, 270) else (320, 180))
    result = anonymise_video(src, tmp_path / "out.mp4", detect_every=1)
    assert result.rotation == turn and (result.width, result.height) == (320, 180)
    info = probe(tmp_path / "out.mp4")
    assert (info.width, info.height) == (320, 180) and info.frames == 12
    assert missed_frames(result.boxes, scene.truth()) == []
    with av.open(str(tmp_path / "out.mp4")) as c:
        for i, out in enumerate(c.decode(video=0)):
            assert rotation(out) == 0
            masked = np.zeros((180, 320), bool)
            for b in result.boxes[i]:
                x0, y0, x1, y1 = (int(v) for v in b.box)
                pad = int(0.6 * max(x1 - x0, y1 - y0))
                masked[max(0, y0 - pad):y1 + pad, max(0, x0 - pad):x1 + pad] = True
            upright_rgb, _ = scene.frame(i)
            diff = np.abs(to_rgb(out).astype(int) - upright_rgb.astype(int)).mean(-1)
            assert diff[~masked].mean() < 4, (turn, i)      # upright, not turned
