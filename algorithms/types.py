"""The result model shared by every algorithm, the renderer and the service.

An algorithm works on the *restored* face (see ``algorithms.face``) and returns an
:class:`AnalysisResult` in restored pixel coordinates; :meth:`AnalysisResult.transformed`
maps it into the original photo's coordinates through the stored affine transform.

Geometry is shapely in continuous pixel coordinates (x right, y down): pixel (column j, row i)
covers [j, j + 1) x [i, i + 1), so its centre is (j + 0.5, i + 0.5), as in SVG and GeoJSON
over rasters. Each :class:`Feature` carries its own
properties: ``radius`` for points, ``width`` for polylines, ``level`` (0 = outermost) and
``value`` for heatmap levels, ``intensity`` where it applies.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np
import shapely
from shapely.affinity import affine_transform
from shapely.geometry import mapping

__all__ = [
    "MASK_TYPES",
    "WIDGET_TYPES",
    "IMAGE_TYPES",
    "check_image_type",
    "Metric",
    "metric_label",
    "AreaResult",
    "Feature",
    "Mask",
    "AnalysisResult",
    "band_label",
    "validate_choice",
    "result_from_dict",
]

MASK_TYPES = ("point_mask", "polygon_mask", "polyline_mask", "heatmap_mask")
WIDGET_TYPES = ("bad_good_line", "numeric", "density", "category")
# the coordinate spaces a result exists in: the photo, or the restored face (upright, cropped)
IMAGE_TYPES = ("original", "restored")

# (lower bound exclusive, label); [0, 30] is Bad. Same bands as the anchor API.
_BANDS = ((90, "Excellent"), (80, "Great"), (70, "Good"), (50, "Average"), (30, "Poor"))


def validate_choice(name: str, value: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def check_image_type(image_type: str) -> str:
    """Return ``image_type`` if it is one of :data:`IMAGE_TYPES`, else raise ``ValueError``
    listing them: the one check of an image_type, for the engine, the API's schemas, the
    services and the CLI alike.

    >>> check_image_type("restored")
    'restored'
    >>> check_image_type("flipped")
    Traceback (most recent call last):
    ...
    ValueError: image_type must be one of original, restored; got 'flipped'
    """
    return validate_choice("image_type", image_type, IMAGE_TYPES)


def band_label(score: float) -> str:
    """Anchor-API band of a 0-100 score: Excellent, Great, Good, Average, Poor or Bad.

    >>> band_label(85.0)
    'Great'
    """
    for lower, label in _BANDS:
        if score > lower:
            return label
    return "Bad"


def metric_label(tech_name: str) -> str:
    """The display name of a metric: ``"pores_number"`` -> ``"Pores number"``."""
    return tech_name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Metric:
    """One measurement of an algorithm. ``value`` is a float, or a str for category widgets.

    As in the anchor API, ``tech_name`` names the metric itself (``pores_number``), so a
    client finds a sub-metric by it; ``name`` is its display name (``Pores number``).
    """

    algorithm: str
    tech_name: str
    value: float | str
    widget_type: str = "numeric"
    unit: str | None = None

    def __post_init__(self):
        validate_choice("widget_type", self.widget_type, WIDGET_TYPES)

    @property
    def name(self) -> str:
        return metric_label(self.tech_name)

    def to_dict(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, float):
            value = round(value, 3) if math.isfinite(value) else None
        out = {"name": self.name, "tech_name": self.tech_name, "value": value,
               "widget_type": self.widget_type}
        if self.unit:
            out["unit"] = self.unit
        return out


@dataclass(frozen=True)
class AreaResult:
    area_name: str
    main_metric: Metric | None
    sub_metrics: tuple[Metric, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"area_name": self.area_name,
                "main_metric": self.main_metric.to_dict() if self.main_metric else None,
                "sub_metrics": [m.to_dict() for m in self.sub_metrics]}


@dataclass(frozen=True)
class Feature:
    """One shapely geometry with its properties (radius, width, level, value, intensity)."""

    geometry: shapely.Geometry
    properties: Mapping[str, Any] = field(default_factory=dict)

    def transformed(self, matrix: np.ndarray) -> "Feature":
        """Map through a 2x3 affine ``matrix``; lengths (radius, width) scale with it."""
        a, b, xoff = matrix[0]
        d, e, yoff = matrix[1]
        geom = affine_transform(self.geometry, [a, b, d, e, xoff, yoff])
        scale = math.sqrt(abs(a * e - b * d))
        props = dict(self.properties)
        for key in ("radius", "width"):
            if key in props:
                props[key] = float(props[key]) * scale
        return Feature(geom, props)

    def to_geojson(self) -> dict[str, Any]:
        return {"type": "Feature", "geometry": mapping(self.geometry),
                "properties": {k: (round(v, 3) if isinstance(v, float) else v)
                               for k, v in self.properties.items()}}


@dataclass(frozen=True)
class Mask:
    """A named layer of one mask type, e.g. ``polyline_mask`` "fine_lines"."""

    mask_type: str
    name: str
    features: tuple[Feature, ...] = ()

    def __post_init__(self):
        validate_choice("mask_type", self.mask_type, MASK_TYPES)

    def transformed(self, matrix: np.ndarray) -> "Mask":
        return replace(self, features=tuple(f.transformed(matrix) for f in self.features))

    def to_dict(self) -> dict[str, Any]:
        return {"mask_type": self.mask_type, "name": self.name,
                "geometry": {"type": "FeatureCollection",
                             "features": [f.to_geojson() for f in self.features]}}


@dataclass(frozen=True)
class AnalysisResult:
    """What one algorithm found on one image, in one coordinate space."""

    algorithm_tech_name: str
    version: str
    image_type: str
    width: int
    height: int
    main_metric: Metric | None = None
    sub_metrics: tuple[Metric, ...] = ()
    area_results: tuple[AreaResult, ...] = ()
    masks: tuple[Mask, ...] = ()
    feedback: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        check_image_type(self.image_type)

    def transformed(self, matrix: np.ndarray, *, width: int, height: int,
                    image_type: str) -> "AnalysisResult":
        """The same result with every geometry mapped by the 2x3 affine ``matrix``."""
        return replace(self, image_type=image_type, width=int(width), height=int(height),
                       masks=tuple(m.transformed(matrix) for m in self.masks))

    def to_dict(self) -> dict[str, Any]:
        return {
            "algorithm_tech_name": self.algorithm_tech_name,
            "version": self.version,
            "image_type": self.image_type,
            "width": self.width,
            "height": self.height,
            "main_metric": self.main_metric.to_dict() if self.main_metric else None,
            "sub_metrics": [m.to_dict() for m in self.sub_metrics],
            "area_results": [a.to_dict() for a in self.area_results],
            "masks": [m.to_dict() for m in self.masks],
            "feedback": dict(self.feedback),
        }


def _metric_from_dict(d: Mapping[str, Any] | None, algorithm: str) -> Metric | None:
    if d is None:
        return None
    return Metric(algorithm=algorithm, tech_name=d["tech_name"], value=d["value"],
                  widget_type=d["widget_type"], unit=d.get("unit"))


def result_from_dict(d: Mapping[str, Any]) -> AnalysisResult:
    """Inverse of :meth:`AnalysisResult.to_dict` (used to reload cached results)."""
    masks = tuple(
        Mask(m["mask_type"], m["name"], tuple(
            Feature(shapely.geometry.shape(f["geometry"]), dict(f.get("properties") or {}))
            for f in m["geometry"]["features"]))
        for m in d.get("masks", ()))
    algo = d["algorithm_tech_name"]
    areas = tuple(AreaResult(a["area_name"], _metric_from_dict(a.get("main_metric"), algo),
                             tuple(_metric_from_dict(s, algo) for s in a.get("sub_metrics", ())))
                  for a in d.get("area_results", ()))
    return AnalysisResult(
        algorithm_tech_name=d["algorithm_tech_name"], version=d["version"],
        image_type=d["image_type"], width=d["width"], height=d["height"],
        main_metric=_metric_from_dict(d.get("main_metric"), algo),
        sub_metrics=tuple(_metric_from_dict(s, algo) for s in d.get("sub_metrics", ())),
        area_results=areas, masks=masks, feedback=dict(d.get("feedback") or {}))
