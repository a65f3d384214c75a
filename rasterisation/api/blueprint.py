"""The API's blueprint: flask-smorest's, plus one decorator for company-scoped views.

A view under ``/api/v1/companies/<company_id>/...`` (or one taking ``company_id`` in its query,
the anchor API's mask calls) is decorated with :meth:`Blueprint.company_scoped`: it answers
403 unless ``company_id`` is the caller's company (:func:`rasterisation.auth.require_company`)
and documents its 401, 403 and (with ``not_found``) 404 answers, so no view checks the company
itself or repeats those lines. Put it last, right above the ``def``: the request is parsed by
``@blp.arguments`` first (a malformed body answers 422), then the company is checked, then the
view runs. A test fails when a route with a ``company_id`` is registered without it.

Example
-------
>>> blp = Blueprint("example", __name__, url_prefix="/api/v1/companies/<uuid:company_id>")
>>> @blp.company_scoped(not_found="no such thing in this company")
... def view(company_id):
...     return "ok"
>>> is_company_scoped(view), sorted(view._apidoc["response"]["responses"])
(True, [401, 403, 404])
"""
from __future__ import annotations

import functools

import flask_smorest
from flask import request

from rasterisation.auth import require_company

__all__ = ["Blueprint", "is_company_scoped", "UNAUTHORISED", "FORBIDDEN"]

UNAUTHORISED = "missing or invalid token"
FORBIDDEN = "company_id is not the token's company"
_MARKER = "rasterisation_company_scoped"
_WHERE = ("path", "query")


def is_company_scoped(view) -> bool:
    """Whether ``view`` (a view function or a MethodView's method) checks the company."""
    return bool(getattr(view, _MARKER, False))


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's ``Blueprint`` with :meth:`company_scoped` (module doc)."""

    def company_scoped(self, *, not_found: str | None = None, forbidden: str = FORBIDDEN,
                       company_id_in: str = "path"):
        """Decorator: 403 unless ``company_id`` is the caller's company; documents 401, 403
        (``forbidden``) and, when ``not_found`` describes it, 404.

        ``company_id_in`` says where the id is: ``"path"`` (the view's ``company_id``
        argument) or ``"query"`` (``?company_id=``, already loaded by ``@blp.arguments``).
        """
        if company_id_in not in _WHERE:
            raise ValueError(f"company_id_in must be one of {', '.join(_WHERE)}; "
                             f"got {company_id_in!r}")

        def decorator(view):
            @functools.wraps(view)
            def scoped(*args, **kwargs):
                require_company(kwargs["company_id"] if company_id_in == "path"
                                else request.args.get("company_id"))
                return view(*args, **kwargs)

            setattr(scoped, _MARKER, True)  # functools.wraps carries it to outer decorators
            documented = [self.alt_response(401, description=UNAUTHORISED),
                          self.alt_response(403, description=forbidden)]
            if not_found is not None:
                documented.append(self.alt_response(404, description=not_found))
            for document in documented:
                scoped = document(scoped)
            return scoped

        return decorator
