"""What each role may see of a person's data: one policy that every page, answer and export applies.

Kinds of personal field, and how much of each a role sees:

- applicant, clerk, supervisor: everything in full.
- administrator: IIN masked (`8503******75`), names as initials, phone and document numbers
  to their last two characters, birth year, address to region, district and settlement, no
  EDS certificate.
- analyst, process owner: IIN as a pseudonym, birth year, address to region, district and
  settlement; no name, phone, document number or certificate.

Clerks and supervisors serve the person and check the originals, so they see everything; an
applicant only ever reaches their own applications. Administrators repair failed steps: they
find an application by its number and need no more than enough to tell two people apart.
Analysts and process owners study the process, not people: a stable pseudonym (an HMAC of the
IIN under a secret key) lets them follow one person across applications without learning who
it is, and a birth year keeps ages for statistics. A viewer with several roles sees, per kind,
the most any of their roles sees; a viewer with none of these roles sees nothing personal.
Searching by IIN is for the roles that see IINs, in full or masked: an administrator finds the
application of the person who calls about it. Analysts and process owners may not, or the search
itself would tell them whether a person applied.
"""

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum
from functools import cached_property

from webapp.logmask import PHONE
from webapp.runtime.views import InstanceView

IIN = re.compile(r"(?<!\d)\d{12}(?!\d)")
HIDDEN_TEXT = "***"
KINDS = ("iin", "name", "phone", "birth_date", "document", "address", "certificate")
# Keys whose text value is a person's name; other `*_name` keys (file, template) are not.
NAME_KEYS = frozenset(
    {
        "name",
        "first_name",
        "given_name",
        "last_name",
        "middle_name",
        "surname",
        "patronymic",
        "full_name",
    }
)
NAME_SUFFIXES = ("_first_name", "_given_name", "_last_name", "_middle_name", "_surname")
NAME_SUFFIXES += ("_patronymic", "_full_name")
DOCUMENT_KEYS = frozenset({"document_number", "passport_number", "id_card_number"})
# Signature evidence: the certificate, the CMS that carries it, and the signed text (names).
CERTIFICATE_KEYS = frozenset(
    {"certificate", "certificate_pem", "certificate_subject", "cms", "signed_text"}
)
# The parts of an address that locate a district, not a door.
COARSE_ADDRESS = ("region", "district", "settlement")


class Level(IntEnum):
    """How much of a field a viewer sees; a higher level shows more."""

    HIDDEN = 0
    PSEUDONYM = 1
    PARTIAL = 2
    FULL = 3


FULL_ACCESS = dict.fromkeys(KINDS, Level.FULL)
ANALYSIS = {
    "iin": Level.PSEUDONYM,
    "name": Level.HIDDEN,
    "phone": Level.HIDDEN,
    "birth_date": Level.PARTIAL,
    "document": Level.HIDDEN,
    "address": Level.PARTIAL,
    "certificate": Level.HIDDEN,
}
POLICY: dict[str, dict[str, Level]] = {
    "applicant": FULL_ACCESS,
    "clerk": FULL_ACCESS,
    "supervisor": FULL_ACCESS,
    "administrator": {
        **dict.fromkeys(KINDS, Level.PARTIAL),
        "certificate": Level.HIDDEN,
    },
    "analyst": ANALYSIS,
    "process_owner": ANALYSIS,
}


def field_kind(key: str, parent: str = "") -> str | None:
    """Return the kind of personal data a field holds, by its name (and its parent's), or None."""
    key, parent = key.lower(), parent.lower()
    if key == "iin" or key.endswith("_iin"):
        return "iin"
    if key in NAME_KEYS or key.endswith(NAME_SUFFIXES):
        return "name"
    if key == "phone" or key.endswith("_phone") or key == "phone_number":
        return "phone"
    if key in ("birth_date", "date_of_birth") or key.endswith("_birth_date"):
        return "birth_date"
    if key in DOCUMENT_KEYS or key.endswith("_document_number"):
        return "document"
    if key == "number" and (parent == "documents" or parent.endswith("document")):
        return "document"
    if key in ("address", "address_text") or key.endswith("_address"):
        return "address"
    if key in CERTIFICATE_KEYS or key.endswith("_certificate"):
        return "certificate"
    return None


def mask_iin(value: str) -> str:
    """Return an IIN with its middle hidden: `850314304175` becomes `8503******75`."""
    return f"{value[:4]}{'*' * (len(value) - 6)}{value[-2:]}"


def initials(value: str) -> str:
    """Return a name as initials: `Aigerim Nurlanovna` becomes `A. N.`."""
    return " ".join(f"{part[0]}." for part in value.split() if part)


def last_two(value: str) -> str:
    """Return a number with all but its last two characters hidden."""
    return "*" * max(len(value) - 2, 0) + value[-2:]


@dataclass(frozen=True)
class View:
    """What one viewer sees: a level per kind of field, and the key of the pseudonyms."""

    levels: dict[str, Level]
    key: bytes

    @cached_property
    def sees_everything(self) -> bool:
        """Tell whether nothing is masked for this viewer."""
        return all(self.levels.get(kind) == Level.FULL for kind in KINDS)

    @property
    def may_search_by_iin(self) -> bool:
        """Tell whether the viewer may look a person up by IIN: one who sees IINs, if masked."""
        return self.levels.get("iin", Level.HIDDEN) >= Level.PARTIAL

    def pseudonym(self, iin: str) -> str:
        """Return the stable pseudonym of an IIN: the same person gives the same pseudonym."""
        digest = hmac.new(self.key, iin.encode(), hashlib.sha256).hexdigest()
        return f"person-{digest[:12]}"

    def __call__(self, value, key: str = "", parent: str = ""):
        """Return data (any JSON value) as this viewer may see it."""
        if self.sees_everything:
            return value
        return self._shown(value, key, parent)

    def instance(self, instance: InstanceView) -> InstanceView:
        """Return an instance with its data, actors and incident messages as the viewer may see."""
        if self.sees_everything:
            return instance
        return replace(
            instance,
            data=self(instance.data),
            events=tuple(
                replace(event, data=self(event.data), actor=self.text(event.actor or "") or None)
                for event in instance.events
            ),
            incidents=tuple(
                replace(incident, message=self.text(incident.message))
                for incident in instance.incidents
            ),
        )

    def _shown(self, value, key: str, parent: str):
        if isinstance(value, dict):
            return {k: self._shown(v, str(k), key) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._shown(item, key, parent) for item in value]
        kind = field_kind(key, parent)
        if kind == "address" and isinstance(value, dict | str):
            return self._address(value)
        if not isinstance(value, str):
            if kind is None or value is None or self.levels.get(kind) == Level.FULL:
                return value
            return HIDDEN_TEXT
        if kind is not None:
            return self._field(kind, value) if value else value
        if value.startswith("{"):
            # Signature evidence is kept as a JSON document in one text field.
            try:
                document = json.loads(value)
            except ValueError:
                document = None
            if isinstance(document, dict):
                return json.dumps(self._shown(document, key, parent), ensure_ascii=False)
        return self.text(value)

    def text(self, value: str) -> str:
        """Return free text with the IINs and phone numbers in it shown as the viewer may."""
        value = IIN.sub(lambda m: self._field("iin", m.group()), value)
        return PHONE.sub(lambda m: self._field("phone", m.group()), value)

    def _field(self, kind: str, value: str) -> str:
        level = self.levels.get(kind, Level.HIDDEN)
        if level == Level.FULL:
            return value
        if level == Level.PSEUDONYM and kind == "iin":
            return self.pseudonym(value)
        if level == Level.PARTIAL:
            if kind == "iin":
                return mask_iin(value) if IIN.fullmatch(value) else HIDDEN_TEXT
            if kind == "name":
                return initials(value)
            if kind in ("phone", "document"):
                return last_two(re.sub(r"\D", "", value) if kind == "phone" else value)
            if kind == "birth_date" and re.match(r"\d{4}-", value):
                return value[:4]
        return HIDDEN_TEXT

    def _address(self, value):
        level = self.levels.get("address", Level.HIDDEN)
        if level == Level.FULL:
            return value
        if level == Level.PARTIAL and isinstance(value, dict):
            return {part: value[part] for part in COARSE_ADDRESS if part in value}
        return HIDDEN_TEXT


class Privacy:
    """The policy with its pseudonym key: gives each viewer their view."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        # Every API call asks for its caller's view; there are few sets of roles.
        self.views: dict[frozenset[str], View] = {}

    @classmethod
    def from_secret(cls, pseudonym_key: str | None, secret_key: str) -> "Privacy":
        """Build the policy from its own key, or one derived from the application's secret."""
        if pseudonym_key:
            return cls(pseudonym_key.encode())
        return cls(hmac.new(secret_key.encode(), b"tirkeu pseudonyms", hashlib.sha256).digest())

    def view(self, roles: Iterable[str]) -> View:
        """Return what a viewer with these roles sees: per kind, the most any role sees."""
        roles = frozenset(roles)
        found = self.views.get(roles)
        if found is None:
            levels = dict.fromkeys(KINDS, Level.HIDDEN)
            for role in roles:
                for kind, level in POLICY.get(role, {}).items():
                    levels[kind] = max(levels[kind], level)
            found = self.views.setdefault(roles, View(levels, self.key))
        return found


# The view of a viewer who may see everything: the command line's, run by the operator.
EVERYTHING = View(FULL_ACCESS, b"")
# The view of a viewer nothing is known of: nothing personal, not even a pseudonym.
NOTHING = View(dict.fromkeys(KINDS, Level.HIDDEN), b"")
