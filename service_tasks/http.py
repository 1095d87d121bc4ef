"""HTTP connectors: each registry reached by an httpx client at a configured base URL.

The REST shape the connectors speak (paths relative to each registry's base URL, JSON bodies):

- population: `GET persons/{iin}` -> the person record
- mobile: `GET phones/{iin}` -> `{"iin", "phone"}` (404: phone null)
- address: `GET premises/{arc}` -> `{"arc", "address", "kind", "accommodation", "title",
  "registered_count"}`
- realestate: `GET titles/{arc}` -> `{"arc", "title", "state_rental", "rental_contract",
  "owners"}`
- consular: `GET deregistrations/{iin}` -> `{"iin", "deregistered", "country", "date"}`
  (404: not deregistered)
- registration: `POST registrations` with `{application_number, iin, arc, registration_type,
  period_months}` -> `{"registration_id", "created", "closed_arc"}`: a permanent registration
  replaces the person's permanent one in the same registry transaction (`closed_arc`, or null)
- idcard: `POST address-rewrites` with `{application_number, iin, arc}` -> `{"status"}`
- notify: `POST notices` with `{application_number, iin, channel, template, params}` ->
  `{"delivery_id"}`

A registry's base URL is `{registry_base_url}/{registry}/` unless configured on its own.
Every POST carries an `Idempotency-Key` header, the key the runtime derives from the application
number and the step (`A-000123:Task_Register`): the registry answers a repeated write with the
first one's result, and answers 409 to the same key with other content (`KeyReused`).

Errors: a 409 answer to a write is `KeyReused`; another 4xx answer whose JSON body has an
`error_code` is a `BusinessError` with that code (and its `error_message`); a 404 of a lookup
without one means "not found" (`person_not_found`, `premises_not_found`); timeouts, connection
failures (after a small retry), 5xx, other 4xx and answers that are not the expected JSON object
are `TechnicalError`s.
"""

import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from service_tasks.errors import BusinessError, KeyReused, TechnicalError
from service_tasks.interfaces import Registries

REGISTRY_NAMES = (
    "population",
    "mobile",
    "address",
    "realestate",
    "consular",
    "registration",
    "idcard",
    "notify",
)
CONNECT_RETRIES = 2


class RegistryClient:
    """An HTTP client for one registry that maps answers to results and errors."""

    def __init__(
        self, name: str, base_url: str, timeout: float, ssl_context: ssl.SSLContext
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            timeout=timeout,
            # httpx retries only failed connection attempts, which never reached the registry.
            transport=httpx.HTTPTransport(verify=ssl_context, retries=CONNECT_RETRIES),
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    def get(self, path: str, not_found: str, required: tuple[str, ...]) -> dict[str, Any]:
        """Return the JSON object at path; a 404 is the business error not_found."""
        result = self.find(path, required)
        if result is None:
            raise BusinessError(not_found, f"{self.name} registry: GET {path}: not found")
        return result

    def find(self, path: str, required: tuple[str, ...]) -> dict[str, Any] | None:
        """Return the JSON object at path, or None on 404."""
        return self._send("GET", path, None, None, required)

    def post(
        self, path: str, body: dict[str, Any], idempotency_key: str, required: tuple[str, ...]
    ) -> dict[str, Any]:
        """Post a write with its idempotency key and return the JSON object answered."""
        result = self._send("POST", path, body, idempotency_key, required)
        if result is None:
            raise TechnicalError(f"{self.name} registry: POST {path} answered 404")
        return result

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        idempotency_key: str | None,
        required: tuple[str, ...],
    ) -> dict[str, Any] | None:
        """Send a request and map its answer to a result, None (a 404 lookup) or an error."""
        where = f"{self.name} registry: {method} {path}"
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        try:
            response = self.client.request(method, path, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TechnicalError(f"{where} timed out after {self.timeout} s") from exc
        except httpx.HTTPError as exc:
            raise TechnicalError(f"{where} failed: {exc}") from exc
        status = response.status_code
        if status == 409 and idempotency_key:
            raise KeyReused(f"{where} refused the idempotency key {idempotency_key!r} (409)")
        if 400 <= status < 500:
            error = _json_object(response) or {}
            code = error.get("error_code")
            if isinstance(code, str) and code:
                message = error.get("error_message") or error.get("message") or code
                raise BusinessError(code, str(message))
            if status == 404 and method == "GET":
                return None
        if status != 200:
            raise TechnicalError(f"{where} answered HTTP {status}")
        result = _json_object(response)
        if result is None:
            raise TechnicalError(f"{where} answered something other than a JSON object")
        missing = [key for key in required if key not in result]
        if missing:
            raise TechnicalError(f"{where} answered without {', '.join(missing)}")
        return result


class HttpPopulation:
    """Population registry over HTTP."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def person(self, iin: str) -> dict[str, Any]:
        """Return the person record; raise `person_not_found` when there is none."""
        result = self.client.get(_path("persons", iin), "person_not_found", ("iin", "birth_date"))
        return result


class HttpMobile:
    """Mobile Citizens Database over HTTP."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def phone(self, iin: str) -> dict[str, Any]:
        """Return `{"iin", "phone"}`, phone None when the person has none registered."""
        result = self.client.find(_path("phones", iin), ("phone",))
        return {"iin": iin, "phone": result["phone"] if result else None}


class HttpAddress:
    """Address Register over HTTP."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def premises(self, arc: str) -> dict[str, Any]:
        """Return the premises; raise `premises_not_found` when there is none."""
        required = ("address", "kind", "accommodation", "title", "registered_count")
        result = self.client.get(_path("premises", arc), "premises_not_found", required)
        return {"arc": arc, **{key: result[key] for key in required}}


class HttpRealEstate:
    """Real estate registry over HTTP."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def title(self, arc: str) -> dict[str, Any]:
        """Return the title of the premises; raise `premises_not_found` when there is none."""
        required = ("title", "state_rental", "rental_contract", "owners")
        result = self.client.get(_path("titles", arc), "premises_not_found", required)
        return {"arc": arc, **{key: result[key] for key in required}}


class HttpConsular:
    """Consular register over HTTP."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def deregistration(self, iin: str) -> dict[str, Any]:
        """Return `{"iin", "deregistered", "country", "date"}`."""
        result = self.client.find(_path("deregistrations", iin), ("deregistered",)) or {}
        return {
            "iin": iin,
            "deregistered": bool(result.get("deregistered")),
            "country": result.get("country"),
            "date": result.get("date"),
        }


class HttpRegistrationPoint:
    """Registration point over HTTP."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def register(
        self,
        idempotency_key: str,
        application_number: str,
        iin: str,
        arc: str,
        registration_type: str,
        period_months: int | None,
    ) -> dict[str, Any]:
        """Record a registration; return `{"registration_id", "created", "closed_arc"}`."""
        body = {
            "application_number": application_number,
            "iin": iin,
            "arc": arc,
            "registration_type": registration_type,
            "period_months": period_months,
        }
        required = ("registration_id", "closed_arc")
        result = self.client.post("registrations", body, idempotency_key, required)
        return {
            "registration_id": str(result["registration_id"]),
            "created": bool(result.get("created", True)),
            "closed_arc": result["closed_arc"],
        }


class HttpIdCard:
    """ID card address rewrite over HTTP."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def rewrite_address(
        self, idempotency_key: str, application_number: str, iin: str, arc: str
    ) -> dict[str, Any]:
        """Queue the rewrite of the card's address once per key; return `{"status"}`."""
        body = {"application_number": application_number, "iin": iin, "arc": arc}
        result = self.client.post("address-rewrites", body, idempotency_key, ("status",))
        return {"status": result["status"]}


class HttpNotifications:
    """Notifications over HTTP."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

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
        body = {
            "application_number": application_number,
            "iin": iin,
            "channel": channel,
            "template": template,
            "params": params,
        }
        result = self.client.post("notices", body, idempotency_key, ("delivery_id",))
        return {"delivery_id": str(result["delivery_id"])}


class HttpRegistries:
    """The HTTP connectors of every registry, sharing one lifetime."""

    def __init__(self, base_urls: Mapping[str, str], timeout: float) -> None:
        missing = [name for name in REGISTRY_NAMES if not base_urls.get(name)]
        if missing:
            raise ValueError(f"no base URL for the registries: {', '.join(missing)}")
        # Loading the CA bundle is the slow part of making a client: do it once for all.
        ssl_context = httpx.create_ssl_context()
        self.clients = {
            name: RegistryClient(name, base_urls[name], timeout, ssl_context)
            for name in REGISTRY_NAMES
        }

    @classmethod
    def from_base_url(
        cls, base_url: str, timeout: float, overrides: Mapping[str, str] | None = None
    ) -> "HttpRegistries":
        """Reach each registry under base_url/<registry>/, or at its own URL in overrides."""
        root = base_url.rstrip("/")
        urls = {name: f"{root}/{name}/" for name in REGISTRY_NAMES}
        urls.update({name: url for name, url in (overrides or {}).items() if url})
        return cls(urls, timeout)

    def registries(self) -> Registries:
        """Return the HTTP connector of every registry."""
        c = self.clients
        return Registries(
            population=HttpPopulation(c["population"]),
            mobile=HttpMobile(c["mobile"]),
            address=HttpAddress(c["address"]),
            realestate=HttpRealEstate(c["realestate"]),
            consular=HttpConsular(c["consular"]),
            registration=HttpRegistrationPoint(c["registration"]),
            idcard=HttpIdCard(c["idcard"]),
            notify=HttpNotifications(c["notify"]),
        )

    def close(self) -> None:
        """Close every client."""
        for client in self.clients.values():
            client.close()


def _path(collection: str, key: str) -> str:
    """Return a resource path with its key quoted as one path segment."""
    return f"{collection}/{quote(key, safe='')}"


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    """Return the response's JSON body when it is an object, else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
