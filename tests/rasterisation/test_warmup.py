"""The worker warm-up loads what a first request would otherwise pay for."""
from __future__ import annotations

from rasterisation.warmup import warm_up


def test_warm_up_loads_the_algorithms_and_the_face_models(monkeypatch):
    from algorithms import model_files, registry
    from algorithms.detect import centerface

    monkeypatch.setattr(centerface, "_sessions", {})  # as in a fresh worker

    seconds = warm_up()
    assert seconds > 0
    assert "pores" in registry.names()
    # the face interpreters of this thread exist now: the next request reuses them
    assert getattr(model_files._local, "interpreters", None), "no interpreter was loaded"
    # and the anonymiser's CenterFace session
    assert any(key[0] == centerface.PRECISION for key in centerface._sessions)
