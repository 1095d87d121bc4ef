"""Settings: where the database and instance folder are, and the processes' legal parameters.

Every value comes from the environment (`TIRKEU_*`), with defaults that make `make run` work
on a fresh machine. Legal parameters (ages, periods, consent window, thresholds, the service
term) live in `processes/settings.json`, which process owners edit, never in code.

Which processes may call the operators that write to registries is the server operator's
choice, not the process owners': `TIRKEU_REGISTRY_WRITERS`, process ids separated by commas
(default `residence_registration`).
"""

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY_FIELDS = (
    "application_number",
    "channel",
    "registration_type",
    "applicant_type",
    "applicant_iin",
    "person_iin",
    "person_full_name",
    "arc",
    "outcome",
    "refusal_reason",
)
# The largest request body the web application reads; routes that take files set their own.
MAX_REQUEST_BYTES = 1024 * 1024
# Task lists filter by the channel and search by these IINs through the task rows' indexes.
TASK_CHANNEL_FIELD = "channel"
TASK_SEARCH_FIELDS = ("applicant_iin", "person_iin")
# The languages, besides the diagrams' English, in which every text of a translated process
# must be deployed (the state language and Russian).
PROCESS_LANGUAGES = ("kk", "ru")
REGISTRY_WRITERS = ("residence_registration",)
NCALAYER_URL = "wss://127.0.0.1:13579/"
WEBSOCKET_URL = re.compile(r"^wss?://[A-Za-z0-9.\-\[\]:]+(/[A-Za-z0-9._~/\-]*)?$")


@dataclass(frozen=True)
class Settings:
    """Everything the composition roots need to build the product."""

    instance_path: Path
    database_url: str
    secret_key: str
    processes_path: Path
    process_settings: dict = field(default_factory=dict)
    registry: dict = field(default_factory=dict)
    db_pool_size: int = 5
    db_max_overflow: int = 10
    retention_days: int = 365
    max_request_bytes: int = MAX_REQUEST_BYTES
    registry_writers: tuple[str, ...] = REGISTRY_WRITERS
    # Sessions end after this long without a request, and this long after signing in at most.
    session_idle_minutes: int = 30
    session_lifetime_hours: int = 12
    # Served over HTTPS: cookies are only sent back over it (they are anyway on HTTPS requests).
    https: bool = False
    # How many reverse proxies in front set X-Forwarded-For/-Proto; 0 trusts no such header.
    proxies: int = 0
    # The certification authorities whose certificates signatures are accepted under.
    trusted_ca_paths: tuple[Path, ...] = ()
    # The key of the pseudonyms analysts see for IINs; derived from `secret_key` when unset.
    pseudonym_key: str | None = None
    # Where the sign page's script finds NCALayer, the national signing app, on the signer's
    # machine; the page's content security policy lets it connect there and nowhere else.
    ncalayer_url: str = NCALAYER_URL

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Read the settings from the environment; keyword arguments win over it."""
        env = os.environ
        instance_path = Path(
            overrides.pop("instance_path", None)
            or env.get("TIRKEU_INSTANCE_PATH", ROOT / "instance")
        ).resolve()
        instance_path.mkdir(parents=True, exist_ok=True)
        processes_path = Path(
            overrides.pop("processes_path", None) or env.get("TIRKEU_PROCESSES", ROOT / "processes")
        )
        settings_file = Path(env.get("TIRKEU_SETTINGS", processes_path / "settings.json"))
        process_settings = json.loads(settings_file.read_text()) if settings_file.exists() else {}
        process_settings.update(overrides.pop("process_settings", {}))
        registry = {
            "registry_mode": env.get("TIRKEU_REGISTRY_MODE", "sandbox"),
            "registry_url": env.get(
                "TIRKEU_REGISTRY_URL", f"sqlite:///{instance_path / 'registries.db'}"
            ),
            "registry_base_url": env.get("TIRKEU_REGISTRY_BASE_URL", ""),
            "registry_timeout": float(env.get("TIRKEU_REGISTRY_TIMEOUT", "5")),
        }
        registry.update(overrides.pop("registry", {}))
        trusted = env.get("TIRKEU_TRUSTED_CAS")
        trusted_ca_paths = tuple(
            Path(path)
            for path in overrides.pop(
                "trusted_ca_paths",
                trusted.split(os.pathsep) if trusted else [instance_path / "pki" / "ca.cert.pem"],
            )
        )
        return cls(
            instance_path=instance_path,
            database_url=overrides.pop("database_url", None)
            or env.get("TIRKEU_DATABASE_URL", f"sqlite:///{instance_path / 'tirkeu.db'}"),
            secret_key=overrides.pop("secret_key", None)
            or env.get("TIRKEU_SECRET_KEY")
            or _stored_secret(instance_path),
            processes_path=processes_path,
            process_settings=process_settings,
            registry=registry,
            trusted_ca_paths=trusted_ca_paths,
            db_pool_size=int(overrides.pop("db_pool_size", env.get("TIRKEU_DB_POOL_SIZE", 5))),
            db_max_overflow=int(
                overrides.pop("db_max_overflow", env.get("TIRKEU_DB_MAX_OVERFLOW", 10))
            ),
            retention_days=int(
                overrides.pop("retention_days", env.get("TIRKEU_RETENTION_DAYS", 365))
            ),
            max_request_bytes=int(
                overrides.pop(
                    "max_request_bytes", env.get("TIRKEU_MAX_REQUEST_BYTES", MAX_REQUEST_BYTES)
                )
            ),
            registry_writers=tuple(
                overrides.pop("registry_writers", None)
                or _names(env.get("TIRKEU_REGISTRY_WRITERS"))
                or REGISTRY_WRITERS
            ),
            session_idle_minutes=int(
                overrides.pop(
                    "session_idle_minutes",
                    env.get("TIRKEU_SESSION_IDLE_MINUTES", cls.session_idle_minutes),
                )
            ),
            session_lifetime_hours=int(
                overrides.pop(
                    "session_lifetime_hours",
                    env.get("TIRKEU_SESSION_LIFETIME_HOURS", cls.session_lifetime_hours),
                )
            ),
            https=bool(
                overrides.pop("https", env.get("TIRKEU_HTTPS", "").lower() in ("1", "true", "yes"))
            ),
            proxies=int(overrides.pop("proxies", env.get("TIRKEU_PROXIES", 0))),
            pseudonym_key=overrides.pop("pseudonym_key", None) or env.get("TIRKEU_PSEUDONYM_KEY"),
            ncalayer_url=websocket_url(
                overrides.pop("ncalayer_url", None) or env.get("TIRKEU_NCALAYER_URL", NCALAYER_URL)
            ),
            **overrides,
        )


def websocket_url(value: str) -> str:
    """Return a ws:// or wss:// address with no characters that a policy header would split."""
    if not WEBSOCKET_URL.match(value):
        raise ValueError(f"TIRKEU_NCALAYER_URL must be a ws:// or wss:// address, not {value!r}")
    return value


def _names(value: str | None) -> tuple[str, ...]:
    """Return the names of a comma-separated setting."""
    return tuple(name.strip() for name in (value or "").split(",") if name.strip())


def _stored_secret(instance_path: Path) -> str:
    """Return the instance's secret key, creating it on first use."""
    path = instance_path / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
