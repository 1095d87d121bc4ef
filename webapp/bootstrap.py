"""Build the product's parts from settings: shared by the two composition roots (CLI and web)."""

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from service_tasks.identifiers import SCHEMA_FORMATS
from service_tasks.operators import build_operators

from .accounts import AccountDirectory
from .centres import centre_problem
from .db.base import utcnow
from .db.session import make_engine, make_session_factory, upgrade
from .online.documents import Documents
from .online.pki import trusted_ca_pems
from .runtime.engine import Runtime
from .runtime.shared_reads import sharing_reads
from .runtime.texts import FOLDER
from .settings import (
    PROCESS_LANGUAGES,
    REGISTRY_WRITERS,
    SUMMARY_FIELDS,
    TASK_CHANNEL_FIELD,
    TASK_SEARCH_FIELDS,
    Settings,
)
from .signing.verifier import EvidenceVerifier

BUNDLE_SUFFIXES = (".bpmn", ".bpmn20.xml", ".dmn", ".json")
# The fields of start data that name the product's own things, checked at every start however
# it comes (API, counter, portal, command line): a counter application's service centre.
FIELD_RULES = {"service_centre_id": centre_problem}


@dataclass(frozen=True)
class Product:
    """The built product: settings, database and runtime."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    runtime: Runtime


def build(settings: Settings | None = None) -> Product:
    """Build the runtime on the configured database with the registry operators.

    Signed acts are verified under the configured CAs, read at each check so that CAs added
    later (`tirkeu init --demo` makes one) are trusted without a restart.
    """
    settings = settings or Settings.from_env()
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    session_factory = make_session_factory(engine)
    runtime = product_runtime(
        session_factory,
        build_operators(settings.registry),
        settings.process_settings,
        lambda: trusted_ca_pems(settings.trusted_ca_paths),
        settings.registry_writers,
    )
    return Product(settings, engine, session_factory, runtime)


def product_runtime(
    session_factory: sessionmaker[Session],
    operators: Mapping[str, Callable],
    config: Mapping,
    trusted_cas: Callable[[], list[bytes]],
    writers: Collection[str] = REGISTRY_WRITERS,
    clock: Callable[[], datetime] = utcnow,
) -> Runtime:
    """Return the runtime with the product's parts: the fields its lists show, its forms'
    formats, the rules for fields of its start data, the processes that may write to
    registries, the verifier of signed acts (trusting the CAs `trusted_cas` returns), the
    documents people sign (texts in their language, facts from the registries) and the
    directory of people; its time is `clock`'s. The registry reads of one transaction, the
    documents' and the processes', are shared (`shared_reads`)."""
    operators = sharing_reads(operators)
    return Runtime(
        session_factory,
        operators,
        config=config,
        clock=clock,
        summary_fields=SUMMARY_FIELDS,
        channel_field=TASK_CHANNEL_FIELD,
        search_fields=TASK_SEARCH_FIELDS,
        formats=SCHEMA_FORMATS,
        writer_processes=writers,
        verifier=EvidenceVerifier(trusted_cas),
        directory=AccountDirectory(),
        field_rules=FIELD_RULES,
        languages=PROCESS_LANGUAGES,
        documents=Documents(operators),
    )


def initialise(product: Product) -> None:
    """Create or upgrade the schema."""
    upgrade(product.engine)


def bundles(paths: list[Path]) -> list[dict[str, Path]]:
    """Group paths into bundles: each folder holding diagrams is one, with the translation
    catalogues of its `translations/` folder; loose files are one."""
    loose: dict[str, Path] = {}
    found: list[dict[str, Path]] = []
    for path in paths:
        if path.is_dir():
            diagrams = [*path.rglob("*.bpmn"), *path.rglob("*.bpmn20.xml")]
            for folder in sorted({p.parent for p in diagrams}):
                files = sorted(folder.iterdir())
                bundle = {p.name: p for p in files if p.name.endswith(BUNDLE_SUFFIXES)}
                bundle.update((FOLDER + p.name, p) for p in sorted(folder.glob(FOLDER + "*.po")))
                found.append(bundle)
        else:
            loose[path.name] = path
    return ([loose] if loose else []) + found


def read_bundle(bundle: dict[str, Path]) -> dict[str, bytes]:
    """Read the files of a bundle."""
    return {name: path.read_bytes() for name, path in bundle.items()}
