"""rasterisation: the self-hostable skin-analysis mask service.

This package root imports nothing on purpose: ``rasterisation.render`` must stay importable
without Flask, SQLAlchemy or MinIO (see tests/rasterisation/test_layering.py), so the app
factory lives in :mod:`rasterisation.app`.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
