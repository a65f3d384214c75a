"""The console script: each command prints its result alone on stdout."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from rasterisation.cli import main

UUID_LINE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A fresh data dir, migrated with the CLI itself."""
    for name in list(os.environ):
        if name.startswith("RASTERISATION_") and not name.startswith("RASTERISATION_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RASTERISATION_DATA_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    return tmp_path / "var"


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_companies_and_tokens_print_their_result_alone(env):
    created = run("companies", "create", "Acme clinic")
    assert created.exit_code == 0 and UUID_LINE.fullmatch(created.stdout), created.stdout
    company_id = created.stdout.strip()

    issued = run("tokens", "create", "--company", company_id, "--name", "dash",
                 "--expires-in", "30")
    assert issued.exit_code == 0 and re.fullmatch(r"rst_[A-Za-z0-9_-]{43}\n", issued.stdout)

    # the token works against an app on the same data dir
    from rasterisation.app import create_app

    app = create_app({"RASTERISATION_DATA_DIR": str(env)})
    r = app.test_client().get(f"/api/v1/companies/{company_id}/images/",
                              headers={"Authorization": f"Bearer {issued.stdout.strip()}"})
    assert r.status_code == 200 and r.json["total"] == 0
    tokens = app.test_client().get("/api/v1/auth/private_tokens/", headers={
        "Authorization": f"Bearer {issued.stdout.strip()}"}).json["items"]
    assert tokens[0]["name"] == "dash" and tokens[0]["expires_at"]
    with app.app_context():
        from rasterisation.extensions import db

        db.engine.dispose()


def test_token_for_unknown_company_fails(env):
    result = CliRunner().invoke(main, ["tokens", "create", "--company", str(uuid.uuid4())])
    assert result.exit_code != 0 and result.stdout == ""
    assert "no company" in result.stderr


def test_token_with_malformed_company_fails(env):
    result = CliRunner().invoke(main, ["tokens", "create", "--company", "acme"])
    assert result.exit_code == 2 and "UUID" in result.stderr


def test_empty_company_name_fails(env):
    result = CliRunner().invoke(main, ["companies", "create", "  "])
    assert result.exit_code != 0 and result.stdout == ""


def test_unmigrated_database_gives_a_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("RASTERISATION_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("RASTERISATION_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["companies", "create", "Acme"])
    assert result.exit_code == 1 and "rasterisation db upgrade" in result.stderr


def test_bad_configuration_is_a_clean_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RASTERISATION_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RASTERISATION_STORAGE", "ftp")
    result = CliRunner().invoke(main, ["companies", "create", "Acme"])
    assert result.exit_code == 1
    assert "RASTERISATION_STORAGE" in result.stderr and "local, minio" in result.stderr


def test_openapi_write(env, tmp_path):
    out = tmp_path / "spec.json"
    result = run("openapi", "write", "--output", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    from rasterisation.cli import OPENAPI_PATH

    assert out.read_text() == OPENAPI_PATH.read_text()


def test_console_script_is_installed_and_runs(env):
    """The real entry point, in a subprocess: stdout carries the id and nothing else."""
    exe = Path(sys.executable).with_name("rasterisation")
    assert exe.exists(), "run `pip install -e .` (make install)"
    child_env = {**os.environ, "RASTERISATION_DATA_DIR": str(env)}
    out = subprocess.run([str(exe), "companies", "create", "Subprocess Co"], env=child_env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert UUID_LINE.fullmatch(out.stdout), out.stdout


def test_help_lists_the_commands():
    result = run("--help")
    for command in ("companies", "tokens", "models", "db", "serve", "openapi"):
        assert command in result.output
