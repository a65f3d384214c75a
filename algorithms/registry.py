"""tech_name -> Algorithm: an explicit registry, one module per algorithm.

Like redash's query runners: each algorithm class declares ``tech_name``, ``version``,
``mask_types``, ``metrics`` and ``areas``, says whether it is ``available()`` here, and is
registered by name. Unknown names are rejected with the list of known ones; names of the
anchor API that we do not implement are rejected with a clear "not supported" message.
"""
from __future__ import annotations

from algorithms.base import Algorithm, MetricSpec, register, registered

__all__ = [
    "Algorithm", "MetricSpec", "UnknownAlgorithm", "NotSupported", "register", "get",
    "names", "algorithms", "ANCHOR_TECH_NAMES",
]

# Every tech_name of the anchor API (Haut.ai API for Masks), implemented or not.
ANCHOR_TECH_NAMES = (
    "hydration", "uniformness", "solar_pigmentation", "freckles", "redness", "translucency",
    "melasma", "moles", "lines", "post_inflammatory_hyperpigmentation", "eye_bags",
    "acne_inflammation", "pores", "pustules", "papules", "acne_class", "skin_tone",
    "pigmentation", "quality", "acne", "skin_type", "eyes_age", "age",
    "skintone_classification", "eye_area_condition", "facial_landmarks",
)


class UnknownAlgorithm(KeyError):
    def __init__(self, name: str, known):
        self.name = name
        self.message = f"unknown algorithm {name!r}; known: {', '.join(sorted(known))}"
        super().__init__(self.message)

    def __str__(self):
        return self.message


class NotSupported(UnknownAlgorithm):
    def __init__(self, name: str, known):
        super().__init__(name, known)
        self.message = (f"algorithm {name!r} is not supported by this service "
                        f"(supported: {', '.join(sorted(known))})")


def _load_plugins() -> None:
    # Importing the modules runs their @register decorators. Explicit list, no discovery magic.
    from algorithms import plugins  # noqa: F401


def algorithms() -> dict[str, type[Algorithm]]:
    """Every registered and available algorithm, by tech_name."""
    _load_plugins()
    return {k: v for k, v in sorted(registered().items()) if v.available()}


def names() -> list[str]:
    return list(algorithms())


_INSTANCES: dict[str, Algorithm] = {}


def get(name: str) -> Algorithm:
    """The algorithm called ``name``; raises NotSupported / UnknownAlgorithm otherwise."""
    known = algorithms()
    if name not in known:
        if name in ANCHOR_TECH_NAMES:
            raise NotSupported(name, known)
        raise UnknownAlgorithm(name, known)
    if name not in _INSTANCES:
        _INSTANCES[name] = known[name]()
    return _INSTANCES[name]
