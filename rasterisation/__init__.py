"""rasterisation: the self-hostable skin-analysis mask service.

The web side: API, services, storage, database models, CLI. The pure engine (analysis,
pipeline, renderer) is the ``algorithms`` package. This package root imports nothing, so
``rasterisation analyse`` and the CLI's small commands do not load Flask; the app factory
lives in :mod:`rasterisation.app`.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
