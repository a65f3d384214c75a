"""Pure image analysis: image -> geometry + metrics.

Nothing in this package imports Flask, SQLAlchemy or MinIO (a test enforces it), so the
same code runs behind the HTTP service, in the ``rasterisation analyse`` command and in
notebooks.
"""
