"""Speed of the detection-mask task (``POST .../masking_tasks/``) on a 2048 px photo.

Two parts, one run:

1. the engine in-process, stage by stage (decode the stored JPEG - at half size, as the
   service does from 2048 px on -, detect, draw the full-size mask, encode the PNG), per
   model, medians of ``--repeat`` runs;
2. end to end against a real ``rasterisation serve`` (one worker, 127.0.0.1): a new task
   (new taskUUID) on a stored 2048 px portrait, answered as a signed URL; the same with
   ``outputType: base64Data``; a repeated taskUUID (the stored answer); and a task whose
   ``inputImage`` is the photo itself as base64 (decoded, checked, stored, then masked).

Usage: .venv/bin/python benchmarks/masking.py [--repeat 30]
Goal (issue 8): masking task on a 2048 px photo <= 100 ms median.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import cv2
import numpy as np
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
MODELS = ["mediapipe_face_short", "mediapipe_face_full", "mediapipe_face_mesh",
          "mediapipe_eyes_lips_mesh", "person", "hand"]


def photo_2048() -> bytes:
    with Image.open(ROOT / "tests/data/photos/london_021.jpg") as im:
        rgb = np.asarray(im.convert("RGB"))
    big = cv2.resize(rgb, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "JPEG", quality=95, subsampling=0)   # as stored
    return buf.getvalue()


def med_ms(values) -> float:
    return statistics.median(values) * 1000


def engine(jpeg: bytes, repeat: int) -> None:
    cv2.setNumThreads(1)   # as the service runs (rasterisation.app)
    from algorithms.detect import detect, mask_image
    from algorithms.face.roi import Pyramid
    from types import SimpleNamespace

    from rasterisation.services.masking import _pixels_for_detection, encode_mask

    size = (2048, 2048)
    stored = SimpleNamespace(format="jpeg", width=size[0], height=size[1])
    print(f"engine, in-process, {size[0]} x {size[1]} px, medians of {repeat}:")
    print(f"{'model':<26} {'decode':>7} {'detect':>7} {'mask':>7} {'PNG':>7} {'total':>7}  found")
    for model in MODELS:
        detect(Pyramid(_pixels_for_detection(jpeg, stored)), model=model)   # warm: interpreters, first-call costs
        stages = {k: [] for k in ("decode", "detect", "mask", "encode", "total")}
        for _ in range(repeat):
            t0 = time.perf_counter()
            px = _pixels_for_detection(jpeg, stored)   # half-size DCT decode, as served
            t1 = time.perf_counter()
            found = [d.scaled(size[0] / px.shape[1]) for d in detect(Pyramid(px), model=model)]
            t2 = time.perf_counter()
            mask = mask_image([d.geometry() for d in found], size, padding=4, blur=4,
                              shapes=[d.shape for d in found])
            t3 = time.perf_counter()
            encode_mask(mask, "PNG")
            t4 = time.perf_counter()
            for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                stages[k].append(v)
        labels = ",".join(d.label for d in found) or "-"
        print(f"{model:<26} " + " ".join(f"{med_ms(stages[k]):7.1f}" for k in stages)
              + f"  {labels}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env, *args) -> str:
    return subprocess.run([str(BIN / "rasterisation"), *args], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def end_to_end(jpeg: bytes, repeat: int) -> None:
    data_dir = tempfile.mkdtemp(prefix="rst-bench-masking-")
    port = free_port()
    env = {**os.environ, "RASTERISATION_DATA_DIR": data_dir, "RASTERISATION_PORT": str(port)}
    cli(env, "db", "upgrade")
    company = cli(env, "companies", "create", "bench")
    token = cli(env, "tokens", "create", "--company", company)
    server = subprocess.Popen([str(BIN / "rasterisation"), "serve", "--workers", "1",
                               "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if requests.get(f"{base}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {token}"
        image_id = s.post(f"{base}/api/v1/companies/{company}/images/",
                          files={"file": ("p.jpg", jpeg)}).json()["id"]
        url = f"{base}/api/v1/companies/{company}/masking_tasks/"

        def run(body):
            t = time.perf_counter()
            r = s.post(url, json=body, timeout=60)
            elapsed = time.perf_counter() - t
            r.raise_for_status()
            return elapsed, r.json()

        for model in MODELS:    # warm the worker
            run({"taskUUID": str(uuid.uuid4()), "inputImage": image_id, "model": model})
        print(f"\nend to end, `rasterisation serve` (1 worker), 2048 x 2048 stored photo, "
              f"medians of {repeat}:")
        for model in ("mediapipe_face_short", "mediapipe_face_mesh", "person", "hand"):
            times = [run({"taskUUID": str(uuid.uuid4()), "inputImage": image_id,
                          "model": model})[0] for _ in range(repeat)]
            print(f"  new task, {model:<22} outputType URL:        {med_ms(times):6.1f} ms "
                  f"(min {min(times) * 1000:.1f}, p90 {np.percentile(times, 90) * 1000:.1f})")
        times = [run({"taskUUID": str(uuid.uuid4()), "inputImage": image_id,
                      "model": "mediapipe_face_short", "outputType": "base64Data"})[0]
                 for _ in range(repeat)]
        print(f"  new task, mediapipe_face_short   outputType base64Data: {med_ms(times):6.1f} ms")
        body = {"taskUUID": str(uuid.uuid4()), "inputImage": image_id,
                "model": "mediapipe_face_short"}
        run(body)
        times = [run(body)[0] for _ in range(repeat)]
        print(f"  repeated taskUUID (stored answer, URL re-signed):      {med_ms(times):6.1f} ms")
        inline = base64.b64encode(jpeg).decode()
        times = [run({"taskUUID": str(uuid.uuid4()), "inputImage": inline,
                      "model": "mediapipe_face_short"})[0] for _ in range(max(5, repeat // 3))]
        print(f"  new task, inputImage as base64 ({len(jpeg) / 1e6:.1f} MB JPEG, stored first): "
              f"{med_ms(times):6.1f} ms")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    jpeg = photo_2048()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    engine(jpeg, args.repeat)
    if not args.skip_server:
        end_to_end(jpeg, args.repeat)
    print(f"load average {os.getloadavg()[0]:.1f} at the end; goal: new task <= 100 ms median")


if __name__ == "__main__":
    main()
