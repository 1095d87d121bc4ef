"""One interface per national registry; the sandbox and HTTP connectors both implement them.

Every method returns plain JSON-able dicts shaped as the operator table promises, raises
`BusinessError` for an answer the process handles and anything else for a technical fault.
"""

from dataclasses import dataclass
from typing import Any, Protocol


class PopulationRegistry(Protocol):
    """The population registry (ГБД ФЛ)."""

    def person(self, iin: str) -> dict[str, Any]:
        """Return the person record; raise `person_not_found` when there is none."""
        ...


class MobileCitizensDatabase(Protocol):
    """The Mobile Citizens Database: the phone a person confirmed for one-time passwords."""

    def phone(self, iin: str) -> dict[str, Any]:
        """Return `{"iin", "phone"}`, phone None when the person has none registered."""
        ...


class AddressRegister(Protocol):
    """The Address Register, keyed by address registration code."""

    def premises(self, arc: str) -> dict[str, Any]:
        """Return the premises; raise `premises_not_found` when there is none."""
        ...


class RealEstateRegistry(Protocol):
    """The real estate registry (ГБД РН): title, owners and state rental contracts."""

    def title(self, arc: str) -> dict[str, Any]:
        """Return the title of the premises; raise `premises_not_found` when there is none."""
        ...


class ConsularRegister(Protocol):
    """The consular register of citizens living abroad."""

    def deregistration(self, iin: str) -> dict[str, Any]:
        """Return `{"iin", "deregistered", "country", "date"}`."""
        ...


class RegistrationPoint(Protocol):
    """The registration point (РП ДРН) that records registrations; writes are idempotent."""

    def register(
        self,
        application_number: str,
        iin: str,
        arc: str,
        registration_type: str,
        period_months: int | None,
    ) -> dict[str, Any]:
        """Record a registration; return `{"registration_id", "created"}`."""
        ...

    def close(self, application_number: str, iin: str) -> dict[str, Any]:
        """Close the permanent registration a new one replaces; return `{"closed_arc"}`."""
        ...


class IdCardService(Protocol):
    """The service that writes the legal address to the ID card's chip."""

    def rewrite_address(self, application_number: str, iin: str, arc: str) -> dict[str, Any]:
        """Queue the rewrite of the card's address; return `{"status"}`."""
        ...


class Notifications(Protocol):
    """Personal-account notices and SMS."""

    def send(
        self,
        application_number: str,
        iin: str,
        channel: str,
        template: str,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        """Send a notice once per application, person and template; return `{"delivery_id"}`."""
        ...


@dataclass(frozen=True)
class Registries:
    """One connector per registry, as the operator table needs them."""

    population: PopulationRegistry
    mobile: MobileCitizensDatabase
    address: AddressRegister
    realestate: RealEstateRegistry
    consular: ConsularRegister
    registration: RegistrationPoint
    idcard: IdCardService
    notify: Notifications
