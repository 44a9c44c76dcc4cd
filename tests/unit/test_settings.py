from __future__ import annotations

import pytest

from plait import Engine, Settings
from plait.errors import ConfigurationError


def test_keyword_beats_environment_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAIT_CONCURRENCY", "7")
    monkeypatch.setenv("PLAIT_DATABASE_URL", "sqlite:///env.db")
    assert Settings.load().concurrency == 7
    assert Settings.load(concurrency=3).concurrency == 3
    assert Settings.load().database_url == "sqlite:///env.db"
    monkeypatch.delenv("PLAIT_DATABASE_URL")
    assert Settings.load().database_url == "sqlite:///./plait.db"


def test_engine_defaults_to_the_embedded_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLAIT_DATABASE_URL", raising=False)
    assert Engine().settings.database_url == "sqlite:///./plait.db"


def test_bad_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="unknown engine setting"):
        Settings.load(concurency=3)
    monkeypatch.setenv("PLAIT_LEASE_SECONDS", "soon")
    with pytest.raises(ConfigurationError, match="PLAIT_LEASE_SECONDS"):
        Settings.load()


def test_unsupported_database_url_is_a_clear_error() -> None:
    from plait.store.urls import open_store

    with pytest.raises(ConfigurationError, match="unsupported database URL scheme 'mysql'"):
        open_store(Settings.load(database_url="mysql://localhost/x"))
