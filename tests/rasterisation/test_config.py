from __future__ import annotations

import pytest

from rasterisation.config import ConfigError, ENV_VARS, load_settings, normalise_database_url


def test_defaults(tmp_path):
    s = load_settings({"RASTERISATION_DATA_DIR": str(tmp_path / "var")})
    assert s.data_dir == (tmp_path / "var").resolve() and s.data_dir.is_dir()
    assert s.database_url == f"sqlite:///{s.data_dir / 'rasterisation.sqlite3'}"
    assert (s.storage, s.host, s.port, s.max_upload_bytes) == ("local", "127.0.0.1", 8000,
                                                                30 * 1024 * 1024)
    assert s.cors_origins == () and s.signed_url_ttl == 3600


def test_secret_key_is_generated_once_per_data_dir(tmp_path):
    a1 = load_settings({"RASTERISATION_DATA_DIR": str(tmp_path / "a")}).secret_key
    a2 = load_settings({"RASTERISATION_DATA_DIR": str(tmp_path / "a")}).secret_key
    b = load_settings({"RASTERISATION_DATA_DIR": str(tmp_path / "b")}).secret_key
    assert a1 == a2 != b and len(a1) >= 32
    assert (tmp_path / "a" / "secret_key").stat().st_mode & 0o077 == 0
    explicit = load_settings({"RASTERISATION_DATA_DIR": str(tmp_path / "a"),
                              "RASTERISATION_SECRET_KEY": "given"}).secret_key
    assert explicit == "given"


@pytest.mark.parametrize("name,value,needle", [
    ("PORT", "eighty", "integer"), ("PORT", "0", "between"), ("STORAGE", "ftp", "local, minio"),
    ("MAX_UPLOAD_BYTES", "-1", "between"), ("STORAGE", "minio", "S3_ENDPOINT"),
    ("S3_ENDPOINT", "127.0.0.1:9000", "http"), ("PUBLIC_URL", "example.com", "http"),
    ("S3_PUBLIC_ENDPOINT", "s3.example.com", "http"),
    ("S3_BUCKET", "Bad_Bucket", "S3_BUCKET"), ("JPEG_QUALITY", "100", "between"),
])
def test_bad_values_name_the_variable(tmp_path, name, value, needle):
    with pytest.raises(ConfigError) as info:
        load_settings({"RASTERISATION_DATA_DIR": str(tmp_path), f"RASTERISATION_{name}": value})
    assert f"RASTERISATION_{name}" in str(info.value) or needle == "S3_ENDPOINT"
    assert needle in str(info.value)


def test_unusable_data_dir_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="RASTERISATION_DATA_DIR"):
        load_settings({"RASTERISATION_DATA_DIR": str(tmp_path / "file" / "var")})


def test_cors_origins_are_split(tmp_path):
    s = load_settings({"RASTERISATION_DATA_DIR": str(tmp_path),
                       "RASTERISATION_CORS_ORIGINS": " https://a.example ,https://b.example,"})
    assert s.cors_origins == ("https://a.example", "https://b.example")


def test_postgres_urls_use_psycopg3():
    assert normalise_database_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_database_url("sqlite:///x") == "sqlite:///x"


def test_every_setting_is_documented():
    import dataclasses

    from rasterisation.config import Settings

    documented = {name.lower() for name in ENV_VARS}
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert fields == documented


def test_every_variable_is_in_the_docs():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [f"RASTERISATION_{name}" for name in ENV_VARS
               if f"`RASTERISATION_{name}`" not in text]
    assert not missing, f"README.md lacks {missing}"


def test_every_variable_read_anywhere_is_in_the_docs():
    """Any RASTERISATION_* name in the code, Makefile or CI script must be documented."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sources = [p for d in ("rasterisation", "algorithms", "tests", "benchmarks")
               for p in (root / d).rglob("*.py")] + [root / "Makefile", root / ".ci" / "run"]
    used = set()
    for path in sources:
        if path.exists():
            used |= set(re.findall(r"RASTERISATION_[A-Z0-9]+(?:_[A-Z0-9]+)*", path.read_text()))
    used.discard("RASTERISATION_TEST")  # a prefix, not a variable
    text = (root / "README.md").read_text()
    missing = sorted(name for name in used if f"`{name}`" not in text)
    assert not missing, f"document these in README.md: {missing}"

