"""Settings: defaults of SPEC §8, bad values named by variable, production needs keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_match_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    settings = load_settings(_env_file=None)

    assert settings.mongodb_db_name == "ai_spark_db"
    assert settings.fabric_catalog_db == "ApiDNA"
    assert settings.fabric_import_batch_size == 500
    assert settings.fabric_max_retries == 5
    assert settings.fabric_api_timeout == 30
    assert settings.default_frame_rate == "25"
    assert settings.export_concurrency == 2
    assert settings.import_concurrency == 4
    assert settings.lease_seconds == 60
    assert settings.max_attempts == 3
    assert settings.job_timeout_seconds == 1800
    assert settings.shutdown_grace_seconds == 20
    assert settings.max_request_bytes == 10 * 1024 * 1024
    assert settings.catalog_mongodb_url == settings.mongodb_url
    assert settings.media_roots == []


def test_comma_separated_lists_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEYS", "alpha, beta,,gamma")
    monkeypatch.setenv("MEDIA_ROOTS", "/srv/media,/mnt/proxies")
    settings = load_settings(_env_file=None)

    assert [key.get_secret_value() for key in settings.api_keys] == ["alpha", "beta", "gamma"]
    assert [str(path) for path in settings.media_roots] == ["/srv/media", "/mnt/proxies"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORT", "abc"),
        ("PORT", "70000"),
        ("LEASE_SECONDS", "0"),
        ("MONGODB_URL", "postgres://x"),
        ("FABRIC_API_URL", "ftp://fabric"),
        ("DEFAULT_FRAME_RATE", "fast"),
        ("ENVIRONMENT", "staging"),
        ("FABRIC_IMPORT_BATCH_SIZE", "-1"),
    ],
)
def test_a_bad_value_is_named_by_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert f"{variable}:" in str(raised.value)


def test_production_without_api_keys_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("API_KEYS", raising=False)
    with pytest.raises(SettingsError, match="API_KEYS"):
        load_settings(_env_file=None)


def test_secrets_do_not_appear_in_the_error_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FABRIC_API_KEY", "super-secret-value")
    monkeypatch.setenv("PORT", "not-a-port")
    with pytest.raises(SettingsError) as raised:
        load_settings(_env_file=None)
    assert "super-secret-value" not in str(raised.value)


def start_service(**env: str) -> subprocess.CompletedProcess[str]:
    """`python main.py` with only these variables: it must stop before serving anything."""
    return subprocess.run(
        [sys.executable, "main.py"],
        cwd=ROOT,
        env={**env, "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_entry_point_stops_with_one_line_naming_the_variable() -> None:
    result = start_service(PORT="abc")
    assert result.returncode == 2
    assert "PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unsupported_default_frame_rate_stops_start_up() -> None:
    result = start_service(DEFAULT_FRAME_RATE="12.5")
    assert result.returncode == 2
    assert "DEFAULT_FRAME_RATE" in result.stderr and "not supported" in result.stderr
