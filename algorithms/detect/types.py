"""What a detector answers: one :class:`Detected` per object, with its box and its shape."""
from __future__ import annotations

from dataclasses import dataclass, field

from shapely import affinity
from shapely.geometry import box as shapely_box
from shapely.geometry.base import BaseGeometry

__all__ = ["Detected"]


@dataclass(frozen=True, eq=False)
class Detected:
    """One detected object (a face, a face part, a hand, a person) in photo pixels.

    Attributes
    ----------
    label : str
        ``face``, ``eyes``, ``lips``, ``nose``, ``hand`` or ``person``.
    confidence : float
        The detector's score in [0, 1].
    contour : shapely geometry
        The object's outline (face oval, part outline, hand hull, silhouette); x right,
        y down, pixel (j, i) covering [j, j+1) x [i, i+1).
    box : (x_min, y_min, x_max, y_max)
        The object's box; it contains ``contour``.
    shape : {"box", "contour"}
        Which of the two the mask draws by default for this model.
    """

    label: str
    confidence: float
    contour: BaseGeometry = field(repr=False)
    box: tuple[float, float, float, float]
    shape: str = "contour"

    def geometry(self, shape: str | None = None) -> BaseGeometry:
        """The shape the mask draws: the box or the contour (default: ``self.shape``)."""
        shape = shape or self.shape
        return shapely_box(*self.box) if shape == "box" else self.contour

    def scaled(self, fx: float, fy: float | None = None) -> "Detected":
        """The same detection in a photo resized by (fx, fy) (x' = fx x, y' = fy y)."""
        fy = fx if fy is None else fy
        x0, y0, x1, y1 = self.box
        return Detected(self.label, self.confidence,
                        affinity.scale(self.contour, fx, fy, origin=(0, 0)),
                        (x0 * fx, y0 * fy, x1 * fx, y1 * fy), self.shape)

    def to_dict(self, *, ndigits: int = 1) -> dict:
        """The answer's detection: ``{x_min, y_min, x_max, y_max, confidence, label}``."""
        x0, y0, x1, y1 = self.box
        return {"x_min": round(float(x0), ndigits), "y_min": round(float(y0), ndigits),
                "x_max": round(float(x1), ndigits), "y_max": round(float(y1), ndigits),
                "confidence": round(float(self.confidence), 4), "label": self.label}
