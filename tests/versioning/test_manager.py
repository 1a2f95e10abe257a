"""DataVersionManager: the naive manager's calls and result shapes, answered by the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from versioning import DataVersionManager

LEGACY = {"id": "42", "name": "Grace", "created_at": "2023-05-06T07:08:09Z"}


@pytest.fixture
def manager(users_registry_dir: Path) -> DataVersionManager:
    return DataVersionManager(users_registry_dir)


def test_should_find_the_projects_registry_from_the_working_directory(project_root: Path, monkeypatch) -> None:
    monkeypatch.chdir(project_root)
    monkeypatch.delenv("VERSIONING_REGISTRY", raising=False)
    assert DataVersionManager().current_version == 3


def test_should_take_the_registry_from_the_environment(users_registry_dir: Path, chdir_tmp, monkeypatch) -> None:
    monkeypatch.setenv("VERSIONING_REGISTRY", str(users_registry_dir))
    assert DataVersionManager().versions == [1, 2, 3]


def test_should_validate_with_the_naive_result_shape(manager: DataVersionManager) -> None:
    assert manager.validate_schema(LEGACY, version=1) == {"valid": True, "version": 1, "errors": []}
    assert manager.validate_schema({"id": "42"}, version=1) == {
        "valid": False,
        "version": 1,
        "errors": ["name: missing required field", "created_at: missing required field"],
    }


def test_should_answer_an_unknown_version_without_raising(manager: DataVersionManager) -> None:
    assert manager.validate_schema(LEGACY, version=4) == {
        "valid": False,
        "version": 4,
        "errors": ["subject 'users' has no version 4; known versions: 1, 2, 3"],
    }


def test_should_use_the_records_own_version_when_none_is_given(manager: DataVersionManager) -> None:
    upgraded = manager.upgrade_data(LEGACY, 2)
    assert manager.validate_schema(upgraded)["version"] == 2


def test_should_upgrade_exactly_as_the_naive_manager(manager: DataVersionManager) -> None:
    assert manager.upgrade_data(LEGACY, 2) == {
        **LEGACY,
        "email": None,
        "updated_at": LEGACY["created_at"],
        "schema_version": 2,
    }
    assert manager.upgrade_data(LEGACY, 3) == {
        **LEGACY,
        "email": None,
        "updated_at": LEGACY["created_at"],
        "phone": None,
        "schema_version": 3,
    }


def test_should_create_a_migration_script(manager: DataVersionManager) -> None:
    script = manager.create_migration_script(1, 3)
    assert "users" in script and "email" in script and "phone" in script
    assert "updated_at" in script and "created_at" in script
