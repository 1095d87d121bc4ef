"""The server side of the HTTP connectors' REST shape, answered from any registries.

Used to put the sandbox registries on loopback for tests and load tests of the HTTP mode.
"""

from service_tasks.errors import BusinessError, KeyReused
from service_tasks.interfaces import Registries


def answer(
    registries: Registries,
    method: str,
    path: str,
    body: dict,
    idempotency_key: str | None = None,
) -> tuple[int, dict]:
    """Answer one request of the connectors' REST shape from the registries.

    A write without an `Idempotency-Key` is refused (400): without one a retry would write twice.
    """
    _, registry, collection, *key = path.split("/")
    lookups = {
        ("population", "persons"): registries.population.person,
        ("mobile", "phones"): registries.mobile.phone,
        ("address", "premises"): registries.address.premises,
        ("realestate", "titles"): registries.realestate.title,
        ("consular", "deregistrations"): registries.consular.deregistration,
    }
    writes = {
        ("registration", "registrations"): registries.registration.register,
        ("idcard", "address-rewrites"): registries.idcard.rewrite_address,
        ("notify", "notices"): registries.notify.send,
    }
    try:
        if method == "GET" and (registry, collection) in lookups and len(key) == 1:
            return 200, lookups[registry, collection](key[0])
        if method == "POST" and (registry, collection) in writes and not key:
            if not idempotency_key:
                return 400, {"error_message": "a write needs an Idempotency-Key header"}
            return 200, writes[registry, collection](idempotency_key, **body)
    except BusinessError as error:
        return 404, {"error_code": error.error_code, "error_message": str(error)}
    except KeyReused as error:
        return 409, {"error_message": str(error)}
    return 404, {}
