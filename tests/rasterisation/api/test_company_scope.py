"""Every company-scoped route checks the company through ``@blp.company_scoped``: a route
with ``<company_id>`` in its path, or a view loading a ``company_id`` argument (the anchor
API's mask calls take it in the query), registered without the decorator fails here, so a
view cannot forget the 403 (tests/rasterisation/api/test_cross_company.py checks the answers).
"""
from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.views import MethodView
from flask_smorest.utils import resolve_schema_instance

from rasterisation.api.blueprint import FORBIDDEN, UNAUTHORISED, Blueprint, is_company_scoped
from rasterisation.cli import openapi_document

_SKIP = {"HEAD", "OPTIONS"}


def _takes_company_id(view) -> bool:
    """Whether one of the view's ``@blp.arguments`` schemas has a ``company_id`` field."""
    for parameter in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
        if "company_id" in resolve_schema_instance(parameter["schema"]).fields:
            return True
    return False


def company_views(app: Flask):
    """(rule, method, view) of every route method that works on a company."""
    for rule in app.url_map.iter_rules():
        function = app.view_functions[rule.endpoint]
        view_class = getattr(function, "view_class", None)
        for method in sorted(rule.methods - _SKIP):
            view = getattr(view_class, method.lower()) if view_class else function
            if "company_id" in rule.arguments or _takes_company_id(view):
                yield rule.rule, method, view


def unscoped(app: Flask) -> list[str]:
    return [f"{method} {rule}" for rule, method, view in company_views(app)
            if not is_company_scoped(view)]


def test_every_company_route_is_scoped(make_app):
    app = make_app()
    found = {f"{method} {rule}" for rule, method, _ in company_views(app)}
    # the walk finds the routes it guards: path company_ids and the query ones
    assert "GET /api/v1/companies/<uuid:company_id>/images/" in found
    assert "POST /service/rasterisation/v4/masks/" in found
    assert "POST /service/rasterisation/v5/svg_masks/" in found
    assert len(found) >= 17
    assert unscoped(app) == []


def test_the_guard_catches_an_unscoped_route():
    """The check is not vacuous: a company route without the decorator is reported."""
    blp = Blueprint("probe", __name__, url_prefix="/api/v1/companies/<uuid:company_id>")

    @blp.route("/things")
    class Things(MethodView):
        def get(self, company_id):
            return "forgot the scope"

        @blp.company_scoped()
        def post(self, company_id):
            return "scoped"

    app = Flask(__name__)
    app.register_blueprint(blp)
    assert unscoped(app) == ["GET /api/v1/companies/<uuid:company_id>/things"]


def test_scoped_operations_document_401_403(make_app):
    spec = json.loads(openapi_document(make_app()))
    operations = [(path, method, op) for path, item in spec["paths"].items()
                  for method, op in item.items() if method != "parameters"
                  if any(p["name"] == "company_id"
                         for p in item.get("parameters", []) + op.get("parameters", []))]
    assert len(operations) >= 17
    for path, method, op in operations:
        assert op["responses"]["401"]["description"] == UNAUTHORISED, (path, method)
        assert "403" in op["responses"] and "404" in op["responses"], (path, method)
    forbidden = {op["responses"]["403"]["description"] for *_, op in operations}
    assert FORBIDDEN in forbidden


def test_company_scoped_checks_where_the_id_is():
    blp = Blueprint("probe2", __name__)
    with pytest.raises(ValueError, match="company_id_in must be one of path, query"):
        blp.company_scoped(company_id_in="body")
