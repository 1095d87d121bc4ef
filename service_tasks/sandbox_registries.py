"""The sandbox connector of each registry: the interfaces' answers from the sandbox store.

Each method is one call of the store, so one transaction on its pool.
"""

import calendar
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from service_tasks.errors import BusinessError
from service_tasks.interfaces import Registries

if TYPE_CHECKING:
    from service_tasks.sandbox import SandboxStore


def sandbox_registries(store: "SandboxStore") -> Registries:
    """Return the sandbox connector of every registry over one store."""
    return Registries(
        population=SandboxPopulation(store),
        mobile=SandboxMobile(store),
        address=SandboxAddress(store),
        realestate=SandboxRealEstate(store),
        consular=SandboxConsular(store),
        registration=SandboxRegistrationPoint(store),
        idcard=SandboxIdCard(store),
        notify=SandboxNotifications(store),
    )


class SandboxPopulation:
    """Population registry backed by the sandbox store."""

    def __init__(self, store: "SandboxStore") -> None:
        self.store = store

    def person(self, iin: str) -> dict[str, Any]:
        """Return the person record; raise `person_not_found` when there is none."""
        doc = self.store.person(iin)
        if doc is None:
            raise BusinessError("person_not_found", f"No person with IIN {iin} in the registry")
        return doc


class SandboxMobile:
    """Mobile Citizens Database backed by the sandbox store."""

    def __init__(self, store: "SandboxStore") -> None:
        self.store = store

    def phone(self, iin: str) -> dict[str, Any]:
        """Return `{"iin", "phone"}`, phone None when the person has none registered."""
        doc = self.store.person(iin)
        return {"iin": iin, "phone": doc["phone"] if doc else None}


class SandboxAddress:
    """Address Register backed by the sandbox store."""

    def __init__(self, store: "SandboxStore") -> None:
        self.store = store

    def premises(self, arc: str) -> dict[str, Any]:
        """Return the premises; raise `premises_not_found` when there is none."""
        found = self.store.premises_and_count(arc)
        if found is None:
            raise _premises_not_found(arc)
        doc, count = found
        return {
            "arc": arc,
            "address": doc["address"],
            "kind": doc["kind"],
            "accommodation": doc["accommodation"],
            "title": doc["title"],
            "registered_count": count,
        }


class SandboxRealEstate:
    """Real estate registry backed by the sandbox store."""

    def __init__(self, store: "SandboxStore") -> None:
        self.store = store

    def title(self, arc: str) -> dict[str, Any]:
        """Return the title of the premises; raise `premises_not_found` when there is none."""
        doc = self.store.premises(arc)
        if doc is None:
            raise _premises_not_found(arc)
        return {
            "arc": arc,
            "title": doc["title"],
            "state_rental": doc["state_rental"],
            "rental_contract": doc["rental_contract"],
            "owners": doc["owners"],
        }


class SandboxConsular:
    """Consular register backed by the sandbox store."""

    def __init__(self, store: "SandboxStore") -> None:
        self.store = store

    def deregistration(self, iin: str) -> dict[str, Any]:
        """Return `{"iin", "deregistered", "country", "date"}`."""
        abroad = (self.store.person(iin) or {}).get("abroad") or {}
        return {
            "iin": iin,
            "deregistered": bool(abroad.get("deregistered")),
            "country": abroad.get("country"),
            "date": abroad.get("date"),
        }


class SandboxRegistrationPoint:
    """Registration point backed by the sandbox store; updates the persons' registrations."""

    def __init__(self, store: "SandboxStore") -> None:
        self.store = store

    def register(
        self,
        idempotency_key: str,
        application_number: str,
        iin: str,
        arc: str,
        registration_type: str,
        period_months: int | None,
    ) -> dict[str, Any]:
        """Record a registration; return `{"registration_id", "created", "closed_arc"}`.

        The person's document changes from the old registration to the new one in the one
        transaction that logs the write: the old permanent address is never closed alone.
        """
        today = datetime.now(UTC).date()
        payload: dict[str, Any] = {
            "registration_type": registration_type,
            "period_months": period_months if registration_type == "temporary" else None,
        }

        def change(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            closed = None
            if registration_type == "permanent":
                previous = doc["registration"]
                if previous and previous.get("kind") == "permanent" and previous["arc"] != arc:
                    closed = previous["arc"]
                doc["registration"] = {"arc": arc, "kind": "permanent", "since": today.isoformat()}
            else:
                previous = doc["temporary_registration"]
                doc["temporary_registration"] = {
                    "arc": arc,
                    "kind": "temporary",
                    "since": today.isoformat(),
                    "until": add_months(today, int(period_months or 0)).isoformat(),
                }
            return {"closed_arc": closed}, {"previous": previous}

        values = {"application_number": application_number, "iin": iin, "arc": arc}
        result, created = self.store.change_person_once(
            "register", idempotency_key, {**values, "payload": payload}, change
        )
        return {**result, "created": created}


class SandboxIdCard:
    """ID card address rewrite backed by the sandbox store."""

    def __init__(self, store: "SandboxStore") -> None:
        self.store = store

    def rewrite_address(
        self, idempotency_key: str, application_number: str, iin: str, arc: str
    ) -> dict[str, Any]:
        """Queue the rewrite of the card's address once per key; return `{"status"}`."""
        values = {"application_number": application_number, "iin": iin, "arc": arc, "payload": {}}
        result, _ = self.store.write_once(
            "idcard", idempotency_key, values, {"status": "done"}, for_known_person=True
        )
        return result


class SandboxNotifications:
    """Notifications recorded in the sandbox store's write log."""

    def __init__(self, store: "SandboxStore") -> None:
        self.store = store

    def send(
        self,
        idempotency_key: str,
        application_number: str,
        iin: str,
        channel: str,
        template: str,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        """Send a notice once per key; return `{"delivery_id"}`."""
        values = {
            "application_number": application_number,
            "iin": iin,
            "payload": {"channel": channel, "template": template, "params": params},
        }
        result, _ = self.store.write_once("notify", idempotency_key, values, {})
        return result


def add_months(start: date, months: int) -> date:
    """Return the date months after start, on the month's last day when it is shorter."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _premises_not_found(arc: str) -> BusinessError:
    """Return the business error for an unknown ARC."""
    return BusinessError("premises_not_found", f"No premises with ARC {arc} in the registry")
