"""The server side of the HTTP connectors' REST shape, answered from any registries.

Used to put the sandbox registries on loopback for tests and load tests of the HTTP mode.
"""

from service_tasks.errors import BusinessError
from service_tasks.interfaces import Registries


def answer(registries: Registries, method: str, path: str, body: dict) -> tuple[int, dict]:
    """Answer one request of the connectors' REST shape from the registries."""
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
        ("registration", "closures"): registries.registration.close,
        ("idcard", "address-rewrites"): registries.idcard.rewrite_address,
        ("notify", "notices"): registries.notify.send,
    }
    try:
        if method == "GET" and (registry, collection) in lookups and len(key) == 1:
            return 200, lookups[registry, collection](key[0])
        if method == "POST" and (registry, collection) in writes and not key:
            return 200, writes[registry, collection](**body)
    except BusinessError as error:
        return 404, {"error_code": error.error_code, "error_message": str(error)}
    return 404, {}
