"""Speed of the synchronous anonymiser on a 12 MP photo (4000 x 3000), faces blurred.

Two photos, saved as JPEG q92: "portraits", a grey 12 MP canvas with the six studio
portraits pasted at several sizes (faces of about 150 to 700 px), and "small faces", the
test scene of tests/data/small_faces.py (the same portraits, 48 faces of 20 to 200 px on a
4000 x 3000 canvas). Measured in one run:

1. the engine, stage by stage: decode, detect (the anonymiser's ``centerface`` detector:
   CenterFace int8 on tiles of the photo reduced for 20 px faces, side by side on one thread
   per core, fused with BlazeFace short + full range, the face mesh per face of 40 px or
   more), anonymise (blur, mask shape, feather), JPEG encode (q95, 4:2:0) - medians of
   ``--repeat`` of the wall-clock time and of the process's CPU time (all threads: on a
   loaded machine the wall clock depends on the other processes, the CPU time much less);
   with ``--compare``, the same with CenterFace in float32 and with the BlazeFace-only
   ``tiled`` detector;
2. ``POST /api/v1/companies/{id}/anonymise`` in-process (Flask test client: the upload's
   checks, EXIF handling, re-encode and storage included, no network), medians of
   ``--repeat``.

Usage: .venv/bin/python benchmarks/anonymise.py [--repeat 10] [--compare] [--when-idle 0.95]
(``--when-idle``: each engine run starts only when the cores were that idle for 0.5 s: on a
machine shared with other sessions, the figure nearest to an unloaded machine.)
Goal (issue 8): faces blurred on a 12 MP photo <= 0.5 s median, faces down to 20 px found.
The face sizes found (and, on the small-faces scene, the labelled faces missed) are printed,
and the 1-minute load average before each measurement.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (portrait, x, y, side): where each portrait goes on the 4000 x 3000 canvas
LAYOUT = [("london_006", 100, 150, 1400), ("london_021", 1600, 200, 900),
          ("london_024", 2650, 250, 700), ("london_042", 1700, 1400, 600),
          ("london_099", 2500, 1300, 450), ("london_107", 3150, 1900, 350)]


def photo_12mp() -> bytes:
    canvas = np.full((3000, 4000, 3), 200, np.uint8)
    for name, x, y, side in LAYOUT:
        with Image.open(ROOT / f"tests/data/photos/{name}.jpg") as im:
            rgb = np.asarray(im.convert("RGB"))
        canvas[y:y + side, x:x + side] = cv2.resize(rgb, (side, side),
                                                    interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def med(values) -> float:
    return statistics.median(values) * 1000


def photo_small_faces() -> tuple[bytes, list[dict]]:
    sys.path.insert(0, str(ROOT / "tests" / "data"))
    import small_faces

    canvas, labels = small_faces.scene()
    buf = io.BytesIO()
    Image.fromarray(canvas).save(buf, "JPEG", quality=92)
    return buf.getvalue(), labels


def _found(label: dict, boxes) -> bool:
    x0, y0, x1, y1 = label["box"]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes)


def idle_fraction(seconds: float = 0.5) -> float:
    """The share of the machine's CPU time that was idle over the next ``seconds``."""
    def read():
        with open("/proc/stat") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        return values[3] + values[4], sum(values)

    idle0, total0 = read()
    time.sleep(seconds)
    idle1, total1 = read()
    return (idle1 - idle0) / max(1, total1 - total0)


def wait_idle(threshold: float, limit: float = 300.0) -> float:
    """Block until the cores were >= ``threshold`` idle for half a second (other sessions'
    work paused), at most ``limit`` seconds; the idle share seen."""
    deadline = time.monotonic() + limit
    while True:
        share = idle_fraction()
        if share >= threshold or time.monotonic() > deadline:
            return share


def engine(jpeg: bytes, repeat: int, *, detector: str = "centerface", labels=None,
           title: str = "", precision: str = "int8", when_idle: float = 0.0) -> None:
    cv2.setNumThreads(1)
    from algorithms.detect import centerface
    from algorithms.detect.anonymise import AnonymiseOptions, anonymise
    from algorithms.detect.faces import detect_face_shapes
    from algorithms.face.roi import Pyramid
    from rasterisation.services.analyses import decode_rgb
    from rasterisation.services.anonymisation import _encode

    centerface.PRECISION = precision
    load = os.getloadavg()[0]
    stages = {k: [] for k in ("decode", "detect", "anonymise", "encode", "total")}
    cpu = {k: [] for k in stages}
    found = []
    idle = []
    for i in range(repeat + 1):
        if when_idle and i:
            idle.append(wait_idle(when_idle))
        w, c = [time.perf_counter()], [time.process_time()]

        def tick():
            w.append(time.perf_counter())
            c.append(time.process_time())

        px = decode_rgb(jpeg)
        tick()
        found = detect_face_shapes(Pyramid(px), detector=detector, parts=("face",),
                                   confidence=0.5, max_faces=256)
        tick()
        out, _, _ = anonymise(px, found, options=AnonymiseOptions(method="blur"))
        tick()
        _encode(out, "jpeg", 95)          # as served (4:2:0, RASTERISATION_JPEG_QUALITY)
        tick()
        if i:   # the first run warms the interpreters (and builds the int8 model once)
            for k, j in zip(stages, range(4)):
                stages[k].append(w[j + 1] - w[j])
                cpu[k].append(c[j + 1] - c[j])
            stages["total"].append(w[4] - w[0])
            cpu["total"].append(c[4] - c[0])
    name = f"{detector}, {precision}" if detector == "centerface" else detector
    sizes = sorted(round(d.box[2] - d.box[0]) for d in found)
    print(f"{title} [{name}] engine, 4000 x 3000, medians of {repeat}, load {load:.1f}, "
          f"{centerface.workers()} threads"
          + (f", each run started when the cores were {min(idle):.2f}-{max(idle):.2f} idle"
             if idle else "") + ":")
    if idle:
        print("  totals ms: " + ", ".join(f"{v * 1000:.0f}" for v in stages["total"]))
    print("  wall ms: " + ", ".join(f"{k} {med(v):.0f}" for k, v in stages.items()))
    print("  CPU ms:  " + ", ".join(f"{k} {med(v):.0f}" for k, v in cpu.items()))
    if labels is None:
        print(f"  faces found: {len(found)} of {len(LAYOUT)}, box widths {sizes} px")
        return
    boxes = [d.box for d in found]
    missed = [lb["size"] for lb in labels if not _found(lb, boxes)]
    print(f"  faces found: {len(labels) - len(missed)} of {len(labels)} labelled (sizes "
          f"{min(lb['size'] for lb in labels):.0f}-{max(lb['size'] for lb in labels):.0f} px), "
          f"{len(found)} detections, box widths {sizes[:6]}...{sizes[-3:]} px; "
          f"missed sizes {sorted(missed)}")


def endpoint(jpeg: bytes, repeat: int, when_idle: float = 0.0) -> None:
    from rasterisation.app import create_app
    from rasterisation.extensions import db
    from rasterisation.services.companies import create_company
    from rasterisation.services.tokens import issue_token

    app = create_app({"RASTERISATION_DATA_DIR": tempfile.mkdtemp(prefix="rst-bench-anon-")})
    with app.app_context():
        db.create_all()
        company = create_company(name="bench")
        _, token = issue_token(company_id=company.id, name="bench")
        cid = company.id
    client = app.test_client()

    def call():
        t = time.perf_counter()
        r = client.post(f"/api/v1/companies/{cid}/anonymise",
                        data={"file": (io.BytesIO(jpeg), "group.jpg")},
                        headers={"Authorization": f"Bearer {token}"},
                        content_type="multipart/form-data")
        assert r.status_code == 200, r.data[:300]
        return time.perf_counter() - t

    call()
    load = os.getloadavg()[0]
    times, idle = [], []
    for _ in range(repeat):
        if when_idle:
            idle.append(wait_idle(when_idle))
        times.append(call())
    print(f"POST .../anonymise (in-process: upload checks, output encode and storage), "
          f"12 MP JPEG, portraits, load {load:.1f}"
          + (f", each call started when the cores were {min(idle):.2f}-{max(idle):.2f} idle"
             if idle else "")
          + f": median {med(times):.0f} ms (min {min(times) * 1000:.0f})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--compare", action="store_true",
                        help="also CenterFace in float32 and the BlazeFace-only detector")
    parser.add_argument("--when-idle", type=float, default=0.0, metavar="SHARE",
                        help="start each engine run only once the cores were this idle for "
                             "0.5 s (e.g. 0.95: a machine shared with other work)")
    args = parser.parse_args()
    jpeg = photo_12mp()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          f"photo {len(jpeg) / 1e6:.1f} MB")
    small, labels = photo_small_faces()
    for photo, title, lab in ((jpeg, "portraits", None), (small, "small faces", labels)):
        engine(photo, args.repeat, labels=lab, title=title, when_idle=args.when_idle)
        if args.compare:
            engine(photo, args.repeat, labels=lab, title=title, precision="float32")
            engine(photo, args.repeat, labels=lab, title=title, detector="tiled")
    endpoint(jpeg, args.repeat, args.when_idle)
    print(f"load average {os.getloadavg()[0]:.1f} at the end; goal: <= 500 ms median")


if __name__ == "__main__":
    main()
