"""The operator table: the names BPMN service tasks call, bound to the configured connectors.

Settings: `registry_mode` (`sandbox`, the default, or `http`); for the sandbox `registry_url`
(its own database URL); for HTTP `registry_base_url`, optional `registry_base_url_<registry>`
per registry and `registry_timeout` in seconds; optional `arc_min_length` / `arc_max_length`.
Identifiers are validated here, before any connector is asked: a malformed IIN or ARC cannot
be in a registry, so a lookup answers "not found", and a write refuses it as a fault.

Writes take a keyword-only `idempotency_key`, which the runtime gives (a diagram cannot): the
application number and the step (`A-000123:Task_Register`), the same on every retry of the step.
Taking that key is what marks an operator as one that writes (registers, rewrites an ID card,
sends a notice): the runtime refuses such operators in any process but those the
`registry_writers` setting names.

Why a crash cannot leave a person unregistered nor registered twice: a step calls the registry
inside its database transaction, so a process killed after the registry wrote and before the
commit rolls the instance back to before the service task, while the registry keeps the write.
The step that runs the task again (the worker's retry, the clerk's next completion) sends the
same key and is answered with the same registration id, without a second write. Closing the old
permanent registration is part of the one `register` write, never a call of its own, so a
rollback can at worst leave the person registered at the new address (which the retried step
then records), never with none; and a refusal after such a rollback leaves the person at the
new address the registry already holds.
"""

from collections.abc import Callable, Mapping
from typing import Any

from service_tasks.errors import BusinessError
from service_tasks.http import REGISTRY_NAMES, HttpRegistries
from service_tasks.identifiers import ARC_MAX_LENGTH, ARC_MIN_LENGTH, arc_problem, iin_problem
from service_tasks.interfaces import Registries
from service_tasks.sandbox import SandboxStore

DEFAULT_TIMEOUT_SECONDS = 10.0
REGISTRATION_TYPES = ("permanent", "temporary")
CHANNELS = ("account", "sms")

Operator = Callable[..., dict[str, Any]]


def build_operators(settings: Mapping[str, object]) -> dict[str, Operator]:
    """Return the operator table over the connectors the settings choose."""
    mode = settings.get("registry_mode") or "sandbox"
    if mode == "sandbox":
        registries = sandbox_store(settings).registries()
    elif mode == "http":
        registries = http_registries(settings).registries()
    else:
        raise ValueError(f"registry_mode must be sandbox or http, not {mode!r}")
    return operators_for(registries, *arc_bounds(settings))


def sandbox_store(settings: Mapping[str, object]) -> SandboxStore:
    """Open the sandbox registries' database named by the `registry_url` setting."""
    url = settings.get("registry_url")
    if not url:
        raise ValueError("the sandbox registries need the registry_url setting")
    return SandboxStore(str(url), *arc_bounds(settings))


def http_registries(settings: Mapping[str, object]) -> HttpRegistries:
    """Build the HTTP connectors from the `registry_base_url*` and `registry_timeout` settings."""
    overrides = {
        name: str(settings[f"registry_base_url_{name}"])
        for name in REGISTRY_NAMES
        if settings.get(f"registry_base_url_{name}")
    }
    base_url = str(settings.get("registry_base_url") or "")
    if not base_url and len(overrides) < len(REGISTRY_NAMES):
        raise ValueError("the HTTP registries need the registry_base_url setting")
    timeout = _number(settings, "registry_timeout", DEFAULT_TIMEOUT_SECONDS)
    return HttpRegistries.from_base_url(base_url, timeout, overrides)


def arc_bounds(settings: Mapping[str, object]) -> tuple[int, int]:
    """Return the configured (minimum, maximum) length of an ARC."""
    low = _number(settings, "arc_min_length", ARC_MIN_LENGTH)
    high = _number(settings, "arc_max_length", ARC_MAX_LENGTH)
    return int(low), int(high)


def operators_for(
    registries: Registries,
    arc_min_length: int = ARC_MIN_LENGTH,
    arc_max_length: int = ARC_MAX_LENGTH,
) -> dict[str, Operator]:
    """Bind the operator names of the contract to a set of connectors."""

    def known_iin(iin: str, not_found: str) -> str:
        """Return iin, or raise not_found when it cannot be an IIN."""
        problem = iin_problem(iin)
        if problem:
            raise BusinessError(not_found, problem)
        return iin

    def known_arc(arc: str) -> str:
        """Return arc, or raise premises_not_found when it cannot be an ARC."""
        problem = arc_problem(arc, arc_min_length, arc_max_length)
        if problem:
            raise BusinessError("premises_not_found", problem)
        return arc

    def person(iin: str) -> dict[str, Any]:
        """population.person: the person record."""
        return registries.population.person(known_iin(iin, "person_not_found"))

    def phone(iin: str) -> dict[str, Any]:
        """mobile.phone: the phone for one-time passwords, or None."""
        if iin_problem(iin):
            return {"iin": iin, "phone": None}
        return registries.mobile.phone(iin)

    def premises(arc: str) -> dict[str, Any]:
        """address.premises: the premises and how many are registered there."""
        return registries.address.premises(known_arc(arc))

    def title(arc: str) -> dict[str, Any]:
        """realestate.title: title, owners and state rental contract."""
        return registries.realestate.title(known_arc(arc))

    def deregistration(iin: str) -> dict[str, Any]:
        """consular.deregistration: whether the person left the consular register."""
        if iin_problem(iin):
            return {"iin": iin, "deregistered": False, "country": None, "date": None}
        return registries.consular.deregistration(iin)

    def register(
        application_number: str,
        iin: str,
        arc: str,
        registration_type: str,
        period_months: int | None = None,
        *,
        idempotency_key: str,
    ) -> dict[str, Any]:
        """registration.register: record the registration (closing the replaced one) once."""
        _require_write(idempotency_key, application_number, iin)
        _require_arc(arc, arc_min_length, arc_max_length)
        if registration_type not in REGISTRATION_TYPES:
            raise ValueError(
                f"registration_type must be permanent or temporary, got {registration_type!r}"
            )
        months = int(period_months) if registration_type == "temporary" and period_months else None
        if registration_type == "temporary" and not months:
            raise ValueError("a temporary registration needs period_months")
        return registries.registration.register(
            idempotency_key, application_number, iin, arc, registration_type, months
        )

    def close(application_number: str, iin: str) -> dict[str, Any]:
        """registration.close: the permanent address a registration will replace; writes nothing.

        Kept for instances of diagram versions that call it before `registration.register`:
        `register` closes the old registration itself, in the same registry transaction.
        """
        current = person(iin).get("registration") or {}
        return {"closed_arc": current.get("arc") if current.get("kind") == "permanent" else None}

    def rewrite_address(
        application_number: str, iin: str, arc: str, *, idempotency_key: str
    ) -> dict[str, Any]:
        """idcard.rewrite_address: write the new address to the ID card once."""
        _require_write(idempotency_key, application_number, iin)
        _require_arc(arc, arc_min_length, arc_max_length)
        return registries.idcard.rewrite_address(idempotency_key, application_number, iin, arc)

    def send(
        application_number: str,
        iin: str,
        channel: str,
        template: str,
        params: dict[str, Any] | None = None,
        *,
        idempotency_key: str,
    ) -> dict[str, Any]:
        """notify.send: send a notice once per step."""
        _require_write(idempotency_key, application_number, iin)
        if channel not in CHANNELS:
            raise ValueError(f"channel must be account or sms, got {channel!r}")
        if not isinstance(template, str) or not template:
            raise ValueError(f"template must be a non-empty code, got {template!r}")
        return registries.notify.send(
            idempotency_key, application_number, iin, channel, template, params or {}
        )

    return {
        "population.person": person,
        "mobile.phone": phone,
        "address.premises": premises,
        "realestate.title": title,
        "consular.deregistration": deregistration,
        "registration.register": register,
        "registration.close": close,
        "idcard.rewrite_address": rewrite_address,
        "notify.send": send,
    }


def _require_write(idempotency_key: str, application_number: str, iin: str) -> None:
    """Refuse a write without a key or an application number, or with a malformed IIN."""
    if not isinstance(idempotency_key, str) or not idempotency_key.strip():
        raise ValueError(f"a write needs an idempotency key, got {idempotency_key!r}")
    if not isinstance(application_number, str) or not application_number.strip():
        raise ValueError(f"a write needs an application number, got {application_number!r}")
    problem = iin_problem(iin)
    if problem:
        raise ValueError(problem)


def _require_arc(arc: str, min_length: int, max_length: int) -> None:
    """Refuse a write with a malformed ARC."""
    problem = arc_problem(arc, min_length, max_length)
    if problem:
        raise ValueError(problem)


def _number(settings: Mapping[str, object], name: str, default: float) -> float:
    """Return a numeric setting, which may arrive as a string."""
    value = settings.get(name)
    return default if value is None or value == "" else float(str(value))
