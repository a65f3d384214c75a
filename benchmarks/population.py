"""Every skin algorithm on every development portrait: scores against age, per ethnicity,
spread.

    .venv/bin/python benchmarks/population.py [--photos DIR ...] [--json OUT]

Reads ``../shared/photos/*.jpg`` and ``../shared/photos/london/*.jpg`` with the age, sex and
ethnicity of ``info.csv`` (36 London portraits, CC BY 4.0, DeBruine & Jones 2017). Prints,
per main score: mean, standard deviation, min, max, Spearman's rank correlation with age
(with its p-value), and the mean per ethnicity group (groups as self-reported; mixed answers
counted in each group they name). The scores are what the service answers, so the tables
show whether they spread over the bands, follow age where they should, and treat skin tones
alike.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from algorithms import registry  # noqa: E402
from algorithms.face import analyse_face  # noqa: E402

SKIN = ("acne", "eye_area_condition", "lines", "pigmentation", "pores", "redness",
        "uniformness", "skin_tone")
SHARED = ROOT.parent / "shared" / "photos"


def portraits(dirs) -> list[dict]:
    """Photos with their info rows (age may be None)."""
    info = {}
    for d in dirs:
        for csv_path in (Path(d) / "info.csv", Path(d) / "london" / "info.csv"):
            if csv_path.exists():
                with open(csv_path) as fh:
                    for row in csv.DictReader(fh):
                        info[row["file_stem"]] = row
    out, seen = [], set()
    for d in dirs:
        for p in sorted(Path(d).glob("*.jpg")) + sorted(Path(d).glob("london/*.jpg")):
            if p.stem in seen:
                continue
            seen.add(p.stem)
            row = info.get(p.stem, {})
            age = row.get("face_age")
            out.append({"stem": p.stem, "path": p,
                        "age": float(age) if age not in (None, "", "NA") else None,
                        "sex": row.get("face_gender"), "eth": row.get("face_eth") or "?"})
    return out


def score_photo(path: Path) -> dict:
    with Image.open(path) as im:
        image = np.asarray(im.convert("RGB"))
    face = analyse_face(image)
    scores = {}
    for name in SKIN:
        r = registry.get(name).analyse(image, face)
        mm = r.main_metric
        if name == "skin_tone":
            ita = [m.value for m in r.sub_metrics if m.tech_name == "ita"]
            scores[name] = float(ita[0]) if ita else None
        else:
            scores[name] = None if mm is None or mm.value is None else float(mm.value)
    return scores


def spearman(x, y):
    from scipy.stats import spearmanr
    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None]
    if len(pairs) < 3:
        return float("nan"), float("nan")
    r = spearmanr([p[0] for p in pairs], [p[1] for p in pairs])
    return float(r.statistic), float(r.pvalue)


def tables(rows: list[dict]) -> str:
    groups = sorted({g for r in rows for g in r["eth"].split("/")})
    lines = ["| score | mean | sd | min | max | rho(age) | p | "
             + " | ".join(f"{g} (n={sum(g in r['eth'].split('/') for r in rows)})"
                          for g in groups) + " | max gap |",
             "|---|" + "---|" * (7 + len(groups))]
    for name in SKIN:
        vals = [r["scores"][name] for r in rows]
        got = [v for v in vals if v is not None]
        if not got:
            continue
        rho, p = spearman([r["age"] for r in rows], vals)
        means = []
        for g in groups:
            gv = [r["scores"][name] for r in rows
                  if g in r["eth"].split("/") and r["scores"][name] is not None]
            means.append(statistics.fmean(gv) if gv else float("nan"))
        gap = max(means) - min(means)
        label = "skin_tone (ITA deg)" if name == "skin_tone" else name
        lines.append(f"| {label} | {statistics.fmean(got):.1f} | {statistics.pstdev(got):.1f} "
                     f"| {min(got):.1f} | {max(got):.1f} | {rho:+.2f} | {p:.3f} | "
                     + " | ".join(f"{m:.1f}" for m in means) + f" | {gap:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", nargs="*", default=[str(SHARED)])
    ap.add_argument("--json", help="write every score per photo here")
    args = ap.parse_args(argv)
    rows = portraits(args.photos)
    if not rows:
        print(f"no portraits under {args.photos}", file=sys.stderr)
        return 1
    for r in rows:
        r["scores"] = score_photo(r["path"])
        print(f"{r['stem']:12s} age {r['age']!s:5s} {r['eth']:18s} "
              + " ".join(f"{k[:5]}={v:6.1f}" if v is not None else f"{k[:5]}=  null"
                         for k, v in r["scores"].items()), file=sys.stderr)
    print(f"{len(rows)} portraits, {sum(r['age'] is not None for r in rows)} with an age\n")
    print(tables(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{k: (str(v) if k == "path" else v) for k, v in r.items()} for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
