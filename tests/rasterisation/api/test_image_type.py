"""One rule for ``image_type``: ``algorithms.types.check_image_type`` (the set is
``IMAGE_TYPES``). The API's schemas, the services, the pipeline, the batch run and the CLI all
call it, so every refusal says the same thing and lists the valid spaces; the answers keep
their shape (422, the one JSON error shape, the field named in ``errors``).
"""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import assert_error  # shared helpers (tests/conftest.py)

from algorithms.pipeline import PhotoAnalysis, in_image_type
from algorithms.types import IMAGE_TYPES, check_image_type
from rasterisation.batch import analyse_photo
from rasterisation.cli import main

ROOT = Path(__file__).resolve().parents[3]
BAD = "flipped"
V4 = "/service/rasterisation/v4/masks/"
V5 = "/service/rasterisation/v5/svg_masks/"


def _message() -> str:
    with pytest.raises(ValueError) as refused:
        check_image_type(BAD)
    return str(refused.value)


def test_the_rule_lists_the_valid_image_types():
    assert IMAGE_TYPES == ("original", "restored")
    assert [check_image_type(t) for t in IMAGE_TYPES] == list(IMAGE_TYPES)
    assert _message() == "image_type must be one of original, restored; got 'flipped'"


@pytest.fixture
def image_id(upload, company, auth_headers, astronaut_jpeg):
    return upload(company, auth_headers, astronaut_jpeg, "astronaut.jpg").json["id"]


def test_analyses_query_answers_the_rule(client, company, auth_headers, image_id):
    response = client.get(f"/api/v1/companies/{company}/images/{image_id}/analyses/quality"
                          f"?image_type={BAD}", headers=auth_headers)
    body = assert_error(response, 422, "image_type", "original, restored")
    assert body["errors"] == {"query": {"image_type": [_message()]}}


@pytest.mark.parametrize("url", [V4, V5])
def test_masks_body_answers_the_rule(client, company, auth_headers, image_id, url):
    body = {"image_id": image_id, "image_type": BAD,
            "masks": [{"algorithm_tech_name": "quality"}]}
    response = client.post(f"{url}?company_id={company}", json=body, headers=auth_headers)
    answer = assert_error(response, 422, "image_type", "original, restored")
    assert answer["errors"] == {"json": {"image_type": [_message()]}}


def test_the_service_and_the_engine_use_the_rule(app, image_id):
    from rasterisation.extensions import db
    from rasterisation.models import Image
    from rasterisation.services.analyses import StoredPhoto

    with app.app_context():
        photo = StoredPhoto(db.session.get(Image, uuid.UUID(image_id)))
        for call in (lambda: photo.result("quality", BAD), lambda: photo.picture(BAD)):
            with pytest.raises(ValueError, match=re.escape(_message())):
                call()
    engine = PhotoAnalysis(np.zeros((8, 8, 3), np.uint8), face=None)
    with pytest.raises(ValueError, match=re.escape(_message())):
        engine.picture(BAD)
    with pytest.raises(ValueError, match=re.escape(_message())):
        in_image_type(engine.result("quality"), None, BAD)


def test_batch_and_cli_use_the_rule(tmp_path):
    with pytest.raises(ValueError, match=re.escape(_message())):
        analyse_photo(tmp_path / "none.jpg", ["quality"], out_dir=tmp_path, image_type=BAD)
    photo = tmp_path / "p.jpg"
    photo.write_bytes(b"")
    result = CliRunner().invoke(main, ["analyse", str(photo), "-a", "quality",
                                       "--out", str(tmp_path / "out"), "--image-type", BAD])
    assert result.exit_code == 2 and _message() in result.output


def test_no_other_copy_of_the_rule():
    """The set and its check are spelled once, in algorithms/types.py."""
    copies = re.compile(r'OneOf\(IMAGE_TYPES\)|validate_choice\(\s*"image_type"'
                        r'|[(\[]"original", "restored"[)\]]')
    found = [str(path.relative_to(ROOT))
             for folder in ("rasterisation", "algorithms")
             for path in sorted((ROOT / folder).rglob("*.py"))
             if path != ROOT / "algorithms" / "types.py" and copies.search(path.read_text())]
    assert found == []
