"""An algorithm that answers differently must say so with a new ``version``.

Stored analyses and renders are keyed by the algorithm's version
(rasterisation/services/analyses.py, services/masks.py): under an unchanged version a
running service keeps serving the old answers for every photo it has already analysed.
``tests/data/algorithm_fingerprints.json`` holds, per algorithm and version, its main value
and feature counts on three committed portraits (tests/data/make_algorithm_fingerprints.py).
"""
from __future__ import annotations

import json

import pytest

from algorithms import registry
from tests.data import make_algorithm_fingerprints as F

STORED = json.loads(F.OUT.read_text())["algorithms"]
MAIN_TOLERANCE = 0.5      # score points: other CPUs round differently, a change moves more
COUNT_TOLERANCE = 0.05    # share of features, at least one


@pytest.fixture(scope="module")
def current(face_models):
    return F.fingerprints()


def test_every_algorithm_has_a_fingerprint():
    assert sorted(STORED) == sorted(registry.names()), (
        "run .venv/bin/python tests/data/make_algorithm_fingerprints.py")


@pytest.mark.parametrize("name", registry.names())
def test_same_version_same_answers(name, current):
    now, then = current[name], STORED.get(name)
    assert then is not None
    assert now["version"] == then["version"], (
        f"{name} is now version {now['version']} (fingerprint of {then['version']}): "
        "regenerate tests/data/algorithm_fingerprints.json")
    bump = (f"{name} answers differently under version {now['version']} ({then} -> {now}): "
            "bump its version (stored analyses are keyed by it), then regenerate the "
            "fingerprints")
    assert sorted(now["photos"]) == sorted(then["photos"]), bump
    for stem, fp in now["photos"].items():
        old = then["photos"][stem]
        a, b = fp["main"], old["main"]
        if isinstance(a, float) and isinstance(b, float):
            assert abs(a - b) <= MAIN_TOLERANCE, (stem, bump)
        else:
            assert a == b, (stem, bump)
        assert len(fp["features"]) == len(old["features"]), (stem, bump)
        for n, m in zip(fp["features"], old["features"]):
            assert abs(n - m) <= max(1, COUNT_TOLERANCE * m), (stem, bump)
