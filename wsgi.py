"""WSGI entry point: ``gunicorn wsgi:app`` (``rasterisation serve`` does the same)."""
from rasterisation.app import create_app

app = create_app()
