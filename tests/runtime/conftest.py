"""Runtime fixtures: a migrated database and a runtime with registry-like test operators."""

from pathlib import Path

import pytest

from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.runtime.engine import Runtime

DIAGRAMS = Path(__file__).with_name("diagrams")


class NotFoundError(Exception):
    """A business error as connectors raise them: it carries an error code."""

    error_code = "not_found"


class Registry:
    """A registry stand-in that records its calls; 'nobody' is unknown, 'flaky' fails first."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.failures_left = {"flaky": 1}

    def lookup(self, key: str) -> dict:
        self.calls.append(key)
        if key == "nobody":
            raise NotFoundError(f"{key} is not registered")
        if self.failures_left.get(key, 0) > 0:
            self.failures_left[key] -= 1
            raise TimeoutError("the registry did not answer in time")
        return {"key": key}


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def runtime(engine, registry) -> Runtime:
    return Runtime(
        make_session_factory(engine),
        {"registry.lookup": registry.lookup},
        config={"service_term": "PT15M"},
    )


def bundle(*names: str) -> dict[str, bytes]:
    """Read test diagrams (and their forms) by file name."""
    return {name: (DIAGRAMS / name).read_bytes() for name in names}
