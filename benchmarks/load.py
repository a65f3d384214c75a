"""Mixed load against a real `rasterisation serve`: cached clients and new-photo clients at once.

For DURATION seconds, CACHED clients repeat a 5-mask v4 request on a photo whose pictures are
cached (only URLs are signed), while NEW clients each upload a new 2048 px photo and ask for
its 5 masks (face, five algorithms, five renders), again and again. Prints per kind the
number of requests, requests/s, p50 / p99 latency and the errors (any status but 200/201, or
a timeout), and the server's defaults it ran with (workers, threads).

Usage: .venv/bin/python benchmarks/load.py [--duration 60] [--cached 16] [--new 2] [--workers 2]
Goal (issue 12): 0 errors; p99 figures in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.masks_endpoint import MASKS, hammer, portrait, run_threads, served  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--cached", type=int, default=16)
    parser.add_argument("--new", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    with served(args.workers, name="load") as (base, company, headers):
        url = f"{base}/service/rasterisation/v4/masks/?company_id={company}"
        upload_url = f"{base}/api/v1/companies/{company}/images/"

        def body(image_id):
            return {"image_id": image_id, "image_type": "original",
                    "masks": [{"algorithm_tech_name": m, "main_metric": True} for m in MASKS]}

        results = {"cached": [], "new": []}
        errors = {"cached": 0, "new": 0}
        lock = threading.Lock()
        session = requests.Session()
        session.headers.update(headers)
        cached_id = session.post(upload_url, files={"file": ("c.jpg", portrait(1000))}
                                 ).json()["id"]
        for _ in range(args.workers * 3):  # warm every worker and cache the pictures
            session.post(url, json=body(cached_id), timeout=300).raise_for_status()
        stop = time.perf_counter() + args.duration
        photos = [portrait(i) for i in range(8)]
        counter = [0]

        def cached_client():
            mine, bad = hammer(headers, stop, lambda s, _: s.post(
                url, json=body(cached_id), timeout=60).status_code == 200)
            with lock:
                results["cached"] += mine
                errors["cached"] += bad

        def new_photo():
            with lock:
                counter[0] += 1
                n = counter[0]
            data = bytearray(photos[n % len(photos)])
            data[-3] = n % 256  # a new photo each time (different bytes, new image id)
            return n, data

        def upload_and_ask(s, photo):
            n, data = photo
            up = s.post(upload_url, files={"file": (f"n{n}.jpg", bytes(data))}, timeout=120)
            if up.status_code != 201:
                return False
            r = s.post(url, json=body(up.json()["id"]), timeout=300)
            return r.status_code == 200 and all(i["error"] is None for i in r.json())

        def new_client():
            mine, bad = hammer(headers, stop, upload_and_ask, prepare=new_photo)
            with lock:
                results["new"] += mine
                errors["new"] += bad

        elapsed = run_threads([cached_client] * args.cached + [new_client] * args.new)

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; "
          f"server: {args.workers} workers, default threads; {elapsed:.0f} s")
    for kind, clients in (("cached", args.cached), ("new", args.new)):
        lat = np.asarray(results[kind]) * 1000
        if lat.size == 0:
            print(f"{kind}: no request finished")
            continue
        print(f"{kind:6s} ({clients} clients): {lat.size} requests, {lat.size / elapsed:.1f}/s, "
              f"p50 {np.percentile(lat, 50):.0f} ms, p99 {np.percentile(lat, 99):.0f} ms, "
              f"errors {errors[kind]}")
    return 1 if sum(errors.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
