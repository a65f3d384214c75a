"""The examples in the renderer's docstrings run."""
from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["rasterisation.render", "rasterisation.render.style", "rasterisation.render.raster",
           "rasterisation.render.encode", "rasterisation.render.svg"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
