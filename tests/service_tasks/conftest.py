"""Fixtures: a sandbox registry database per test, loaded with the default data set."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from service_tasks.dataset import DEFAULT_DATASET_PATH
from service_tasks.sandbox import SandboxStore


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    """Return the URL of a fresh SQLite file for the sandbox registries."""
    return f"sqlite:///{tmp_path / 'registries.db'}"


@pytest.fixture
def store(registry_url: str) -> Iterator[SandboxStore]:
    """Return a sandbox store holding the default data set."""
    sandbox = SandboxStore(registry_url)
    sandbox.load_dataset_file(DEFAULT_DATASET_PATH)
    yield sandbox
    sandbox.dispose()
