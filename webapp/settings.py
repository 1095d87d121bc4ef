"""Settings: where the database and instance folder are, and the processes' legal parameters.

Every value comes from the environment (`TIRKEU_*`), with defaults that make `make run` work
on a fresh machine. Legal parameters (ages, periods, consent window, thresholds, the service
term) live in `processes/settings.json`, which process owners edit, never in code.
"""

import json
import os
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
    "arc",
    "outcome",
    "refusal_reason",
)
# Task lists filter by the channel and search by these IINs through the task rows' indexes.
TASK_CHANNEL_FIELD = "channel"
TASK_SEARCH_FIELDS = ("applicant_iin", "person_iin")


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
    # The key of the pseudonyms analysts see for IINs; derived from `secret_key` when unset.
    pseudonym_key: str | None = None

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
            db_pool_size=int(overrides.pop("db_pool_size", env.get("TIRKEU_DB_POOL_SIZE", 5))),
            db_max_overflow=int(
                overrides.pop("db_max_overflow", env.get("TIRKEU_DB_MAX_OVERFLOW", 10))
            ),
            retention_days=int(
                overrides.pop("retention_days", env.get("TIRKEU_RETENTION_DAYS", 365))
            ),
            pseudonym_key=overrides.pop("pseudonym_key", None) or env.get("TIRKEU_PSEUDONYM_KEY"),
            **overrides,
        )


def _stored_secret(instance_path: Path) -> str:
    """Return the instance's secret key, creating it on first use."""
    path = instance_path / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
