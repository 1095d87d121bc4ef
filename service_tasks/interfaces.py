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
    """The registration point (РП ДРН) that records registrations.

    Writes are idempotent: each carries a key (the application number and the step), a call
    repeated with its key is answered with the first call's result, and the same key with other
    content raises `KeyReused`.
    """

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

        A permanent registration replaces the person's permanent one in the same registry
        transaction, so no one is ever left without a registration: `closed_arc` is the
        address it replaced (None when there was none, or it was the same address).
        """
        ...


class IdCardService(Protocol):
    """The service that writes the legal address to the ID card's chip."""

    def rewrite_address(
        self, idempotency_key: str, application_number: str, iin: str, arc: str
    ) -> dict[str, Any]:
        """Queue the rewrite of the card's address once per key; return `{"status"}`."""
        ...


class Notifications(Protocol):
    """Personal-account notices and SMS."""

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
