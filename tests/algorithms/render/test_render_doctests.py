"""The examples in the renderer's docstrings run."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["algorithms.render", "algorithms.render.style", "algorithms.render.raster",
           "algorithms.render.encode", "algorithms.render.svg"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
