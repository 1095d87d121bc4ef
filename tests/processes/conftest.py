"""Process fixtures: the runtime on a migrated database with the sandbox registries."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from service_tasks.operators import build_operators
from service_tasks.sandbox import SandboxStore
from tests.processes.driver import REGISTRIES, SETTINGS, ProcessDriver, deploy_registration
from webapp.bootstrap import product_runtime
from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.runtime.engine import Runtime
from webapp.signing import DemoSigner


@pytest.fixture
def engine(database_url):
    """A migrated database of this test's own."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def registry_url(tmp_path: Path) -> str:
    """The URL of this test's sandbox registries' database."""
    return f"sqlite:///{tmp_path / 'registries.db'}"


@pytest.fixture
def store(registry_url: str) -> Iterator[SandboxStore]:
    """The sandbox registries, holding the tests' data set."""
    sandbox = SandboxStore(registry_url)
    sandbox.load_dataset(REGISTRIES)
    yield sandbox
    sandbox.dispose()


@pytest.fixture(scope="session")
def signer() -> DemoSigner:
    """Signs as anyone under a test CA that the tests' runtimes trust."""
    return DemoSigner()


@pytest.fixture
def runtime(engine, registry_url: str, signer: DemoSigner) -> Runtime:
    """The runtime with the sandbox operators and the deployed registration process."""
    runtime = product_runtime(
        make_session_factory(engine),
        build_operators({"registry_mode": "sandbox", "registry_url": registry_url}),
        SETTINGS,
        lambda: [signer.ca.certificate_pem()],
    )
    deploy_registration(runtime)
    return runtime


@pytest.fixture
def process(runtime: Runtime, store: SandboxStore, signer: DemoSigner) -> ProcessDriver:
    """One application's driver over the runtime and the sandbox registries."""
    return ProcessDriver(runtime, store, signer)
