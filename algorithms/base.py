"""What an algorithm is: the :class:`Algorithm` base class, its :class:`MetricSpec` and the
:func:`register` decorator.

An algorithm module imports this (never :mod:`algorithms.registry`), so the registry can load
the modules listed in :mod:`algorithms.plugins` without an import cycle: ``registry ->
plugins -> each algorithm -> base``.

Examples
--------
>>> class Demo(Algorithm):
...     tech_name = "demo"
...     version = "0.1.0"
...     metrics = (MetricSpec("demo_score", "bad_good_line"),)
...     def analyse(self, image, face):
...         raise NotImplementedError
>>> Demo.metrics[0].algorithm, Demo.metrics[0].name
('demo', 'Demo score')
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from algorithms.face.types import FaceGeometry
from algorithms.types import AnalysisResult, metric_label

__all__ = ["Algorithm", "MetricSpec", "register", "registered"]


@dataclass(frozen=True)
class MetricSpec:
    """A metric an algorithm answers: ``tech_name`` names the metric (``pores_number``).

    ``algorithm`` is filled in from the class that lists the spec in its ``metrics`` (see
    :meth:`Algorithm.__init_subclass__`); it is not written by hand.
    """

    tech_name: str
    widget_type: str
    unit: str | None = None
    description: str = ""
    algorithm: str = ""

    @property
    def name(self) -> str:
        return metric_label(self.tech_name)


class Algorithm(abc.ABC):
    tech_name: ClassVar[str]
    version: ClassVar[str]
    mask_types: ClassVar[tuple[str, ...]] = ()
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    areas: ClassVar[tuple[str, ...]] = ()
    requires_face: ClassVar[bool] = True
    description: ClassVar[str] = ""
    # Pixels per millimetre on the face below which the algorithm cannot resolve what it
    # measures: its result then carries the feedback problem ``low_resolution`` and a null
    # score (None: no requirement).
    required_px_per_mm: ClassVar[float | None] = None

    def __init_subclass__(cls, **kwargs):
        """Give each of the class's own :class:`MetricSpec` its ``algorithm``: the class's
        ``tech_name``."""
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("tech_name")
        if name is not None and "metrics" in cls.__dict__:
            cls.metrics = tuple(replace(m, algorithm=name) for m in cls.metrics)

    @classmethod
    def available(cls) -> bool:
        return True

    @abc.abstractmethod
    def analyse(self, image: np.ndarray, face: FaceGeometry | None) -> AnalysisResult:
        """Analyse ``image`` (original RGB uint8) given its face geometry.

        Returns the result in *restored* coordinates (``image_type='restored'``) when a face
        is used; raises ``algorithms.face.types.NoFaceError`` when one is needed and
        ``face`` is None.
        """

    @classmethod
    def describe(cls) -> dict:
        return {"tech_name": cls.tech_name, "version": cls.version,
                "description": cls.description, "mask_types": list(cls.mask_types),
                "metrics": [{"tech_name": m.tech_name, "name": m.name,
                             "widget_type": m.widget_type, "unit": m.unit,
                             "description": m.description} for m in cls.metrics],
                "areas": list(cls.areas)}


_REGISTRY: dict[str, type[Algorithm]] = {}


def register(cls: type[Algorithm]) -> type[Algorithm]:
    """Class decorator: add ``cls`` under its ``tech_name``."""
    if cls.tech_name in _REGISTRY and _REGISTRY[cls.tech_name] is not cls:
        raise ValueError(f"algorithm {cls.tech_name!r} registered twice")
    _REGISTRY[cls.tech_name] = cls
    return cls


def registered() -> dict[str, type[Algorithm]]:
    """Every class registered so far, by tech_name (whatever has been imported)."""
    return dict(_REGISTRY)
