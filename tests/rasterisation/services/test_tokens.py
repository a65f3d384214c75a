from __future__ import annotations

from datetime import timedelta

import pytest

from rasterisation.models import utcnow
from rasterisation.services.companies import create_company
from rasterisation.services.tokens import (
    InvalidToken, TOKEN_PATTERN, authenticate_token, generate_token, hash_token, issue_token,
    revoke_token,
)


@pytest.fixture
def ctx(make_app):
    app = make_app()
    with app.app_context():
        yield app


def test_tokens_are_random_and_well_formed():
    tokens = {generate_token() for _ in range(100)}
    assert len(tokens) == 100 and all(TOKEN_PATTERN.fullmatch(t) for t in tokens)
    assert hash_token("rst_a") != hash_token("rst_b") and len(hash_token("x")) == 64


def test_issue_and_authenticate(ctx):
    company = create_company(name="A")
    row, token = issue_token(company_id=company.id, name="n", expires_in_days=1)
    assert authenticate_token(token).id == row.id
    assert row.expires_at - row.created_at == timedelta(days=1)
    with pytest.raises(InvalidToken, match="expired"):
        authenticate_token(token, now=utcnow() + timedelta(days=2))


def test_revoke_is_scoped_to_the_company(ctx):
    a, b = create_company(name="A"), create_company(name="B")
    row, token = issue_token(company_id=a.id)
    assert revoke_token(company_id=b.id, token_id=row.id) is None
    assert authenticate_token(token).id == row.id
    assert revoke_token(company_id=a.id, token_id=row.id).revoked_at is not None
    with pytest.raises(InvalidToken, match="revoked"):
        authenticate_token(token)


@pytest.mark.parametrize("kwargs,error", [
    ({"name": ""}, ValueError), ({"expires_in_days": 0}, ValueError),
    ({"expires_in_days": 99999}, ValueError),
])
def test_issue_validation(ctx, kwargs, error):
    company = create_company(name="A")
    with pytest.raises(error):
        issue_token(company_id=company.id, **kwargs)


def test_issue_for_unknown_company(ctx):
    import uuid

    with pytest.raises(LookupError):
        issue_token(company_id=uuid.uuid4())
