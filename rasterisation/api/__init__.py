"""HTTP API: one blueprint per resource, registered on the flask-smorest ``Api``."""
from __future__ import annotations

from flask import Flask

from rasterisation.api import (
    algorithms, analyses, anonymise, auth, dashboard, docs_assets, files, health, images, jobs,
    masking_tasks, masks, tokens, users,
)

__all__ = ["register_blueprints", "BLUEPRINTS"]

# documented in the OpenAPI spec, in this order
BLUEPRINTS = (health.blp, auth.blp, users.blp, tokens.blp, images.blp, algorithms.blp,
              analyses.blp, masks.blp,
              masking_tasks.blp, anonymise.blp, jobs.blp, jobs.webhook_blp,
              files.blp)


def register_blueprints(app: Flask, api) -> None:
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(docs_assets.bp)
    app.register_blueprint(dashboard.bp)
