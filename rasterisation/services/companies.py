"""Companies: the tenants of the service.

Example
-------
>>> # inside an app context
>>> # company = create_company(name="Acme clinic")
"""
from __future__ import annotations

import uuid

from rasterisation.extensions import db
from rasterisation.models import Company

__all__ = ["create_company", "get_company"]


def create_company(*, name: str) -> Company:
    """Insert a company and commit. ``name`` is stripped and must be 1-200 characters."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise ValueError("a company name must be 1 to 200 characters")
    company = Company(id=uuid.uuid4(), name=name)
    db.session.add(company)
    db.session.commit()
    return company


def get_company(company_id) -> Company | None:
    return db.session.get(Company, company_id)
