"""Validation and normalisation of the sandbox registries' data set document."""

import json
from datetime import date
from pathlib import Path
from typing import Any

from service_tasks.identifiers import ARC_MAX_LENGTH, ARC_MIN_LENGTH, arc_problem, iin_problem

DEFAULT_DATASET_PATH = Path(__file__).parent / "data" / "sandbox.json"

SEXES = ("male", "female")
LEGAL_CAPACITIES = ("full", "limited", "incapable")
DOCUMENT_KINDS = ("id_card", "birth_certificate", "passport")
REGISTRATION_KINDS = ("permanent", "temporary")
PREMISES_KINDS = ("flat", "house", "dormitory", "hotel", "sanatorium", "other")
ADDRESS_KEYS = (
    "region",
    "district",
    "settlement",
    "kato",
    "street",
    "building",
    "block",
    "flat",
    "postcode",
)

# Keys whose absence is an error; every other key of the format defaults to empty.
PERSON_REQUIRED = (
    "iin",
    "surname",
    "given_name",
    "birth_date",
    "sex",
    "citizenship",
    "alive",
    "legal_capacity",
)
PREMISES_REQUIRED = ("arc", "address", "kind", "accommodation", "title")
MAX_PROBLEMS_SHOWN = 50


class DatasetError(ValueError):
    """The data set document is malformed; `problems` names each bad record and field."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        tail = [f"... and {more} more"] if more else []
        super().__init__("invalid registry data set:\n" + "\n".join(shown + tail))
        self.problems = problems


def read_dataset_file(path: str | Path) -> dict[str, Any]:
    """Read a data set document from a JSON file."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError([f"{path}: not JSON: {exc}"]) from exc
    if not isinstance(doc, dict):
        raise DatasetError([f"{path}: the data set must be a JSON object"])
    return doc


def parse_dataset(
    doc: object, arc_min_length: int = ARC_MIN_LENGTH, arc_max_length: int = ARC_MAX_LENGTH
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the normalised persons and premises of a data set, or raise DatasetError."""
    checker = _Checker(arc_min_length, arc_max_length)
    if not isinstance(doc, dict):
        raise DatasetError(["the data set must be a JSON object with 'persons' and 'premises'"])
    for key in ("persons", "premises"):
        if key not in doc:
            checker.problems.append(f"missing key {key!r}")
        elif not isinstance(doc[key], list):
            checker.problems.append(f"{key!r} must be a list")
    if checker.problems:
        raise DatasetError(checker.problems)
    persons = [checker.person(i, record) for i, record in enumerate(doc["persons"])]
    premises = [checker.premises(i, record) for i, record in enumerate(doc["premises"])]
    checker.unique([p["iin"] for p in persons if p], "persons", "iin")
    checker.unique([p["arc"] for p in premises if p], "premises", "arc")
    if checker.problems:
        raise DatasetError(checker.problems)
    return persons, premises


class _Checker:
    """Collects every problem of a data set so that one run reports them all."""

    def __init__(self, arc_min_length: int, arc_max_length: int) -> None:
        self.arc_bounds = (arc_min_length, arc_max_length)
        self.problems: list[str] = []
        self.where = ""

    def fail(self, message: str) -> None:
        """Record a problem of the current record."""
        self.problems.append(f"{self.where}: {message}")

    def person(self, index: int, record: object) -> dict[str, Any]:
        """Check one person and return it normalised."""
        self.where = _label("persons", index, record, "iin")
        checked = self.required(record, PERSON_REQUIRED)
        if checked is None:
            return {}
        record = checked
        self.iin(record["iin"], "iin")
        self.string(record["surname"], "surname")
        self.string(record["given_name"], "given_name")
        self.string(record.get("patronymic"), "patronymic", nullable=True)
        self.iso_date(record["birth_date"], "birth_date")
        self.choice(record["sex"], "sex", SEXES)
        self.string(record["citizenship"], "citizenship")
        self.boolean(record["alive"], "alive")
        self.choice(record["legal_capacity"], "legal_capacity", LEGAL_CAPACITIES)
        self.string(record.get("phone"), "phone", nullable=True)
        return {
            "iin": record["iin"],
            "surname": record["surname"],
            "given_name": record["given_name"],
            "patronymic": record.get("patronymic"),
            "birth_date": record["birth_date"],
            "sex": record["sex"],
            "citizenship": record["citizenship"],
            "alive": record["alive"],
            "legal_capacity": record["legal_capacity"],
            "documents": [
                self.document(i, d) for i, d in enumerate(self.items(record, "documents"))
            ],
            "phone": record.get("phone"),
            "parents": self.iins(record, "parents"),
            "guardians": self.iins(record, "guardians"),
            "registration": self.registration(record.get("registration"), "registration"),
            "temporary_registration": self.registration(
                record.get("temporary_registration"), "temporary_registration"
            ),
            "abroad": self.abroad(record.get("abroad")),
        }

    def premises(self, index: int, record: object) -> dict[str, Any]:
        """Check one premises and return it normalised."""
        self.where = _label("premises", index, record, "arc")
        checked = self.required(record, PREMISES_REQUIRED)
        if checked is None:
            return {}
        record = checked
        self.arc(record["arc"], "arc")
        self.choice(record["kind"], "kind", PREMISES_KINDS)
        self.boolean(record["accommodation"], "accommodation")
        self.boolean(record["title"], "title")
        self.boolean(record.get("state_rental", False), "state_rental")
        return {
            "arc": record["arc"],
            "address": self.address(record["address"]),
            "kind": record["kind"],
            "accommodation": record["accommodation"],
            "title": record["title"],
            "state_rental": record.get("state_rental", False),
            "rental_contract": self.iins(record, "rental_contract"),
            "owners": [self.owner(i, o) for i, o in enumerate(self.items(record, "owners"))],
        }

    def required(
        self, record: object, keys: tuple[str, ...], field: str = ""
    ) -> dict[str, Any] | None:
        """Return record when it is an object with every key, else record why not."""
        prefix = f"{field}: " if field else ""
        if not isinstance(record, dict):
            self.fail(f"{prefix}must be an object")
            return None
        missing = [key for key in keys if key not in record]
        for key in missing:
            self.fail(f"{prefix}missing key {key!r}")
        return None if missing else record

    def items(self, record: dict[str, Any], key: str) -> list[Any]:
        """Return a list field, empty when absent."""
        value = record.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"{key} must be a list")
            return []
        return value

    def iins(self, record: dict[str, Any], key: str) -> list[str]:
        """Return a list of IINs, each checked."""
        values = self.items(record, key)
        for i, value in enumerate(values):
            self.iin(value, f"{key}[{i}]")
        return values

    def document(self, index: int, record: object) -> dict[str, Any]:
        """Check one identity document and return it normalised."""
        field = f"documents[{index}]"
        checked = self.required(record, ("kind", "number"), field)
        if checked is None:
            return {}
        record = checked
        self.choice(record["kind"], f"{field}.kind", DOCUMENT_KINDS)
        self.string(record["number"], f"{field}.number")
        self.iso_date(record.get("valid_until"), f"{field}.valid_until", nullable=True)
        return {
            "kind": record["kind"],
            "number": record["number"],
            "valid_until": record.get("valid_until"),
        }

    def registration(self, record: object, field: str) -> dict[str, Any] | None:
        """Check a registration and return it normalised."""
        if record is None:
            return None
        checked = self.required(record, ("arc", "kind", "since"), field)
        if checked is None:
            return None
        record = checked
        self.arc(record["arc"], f"{field}.arc")
        self.choice(record["kind"], f"{field}.kind", REGISTRATION_KINDS)
        self.iso_date(record["since"], f"{field}.since")
        self.iso_date(record.get("until"), f"{field}.until", nullable=True)
        normalised = {"arc": record["arc"], "kind": record["kind"], "since": record["since"]}
        if record.get("until") is not None:
            normalised["until"] = record["until"]
        return normalised

    def abroad(self, record: object) -> dict[str, Any] | None:
        """Check the stay abroad and return it normalised."""
        if record is None:
            return None
        checked = self.required(record, ("deregistered",), "abroad")
        if checked is None:
            return None
        record = checked
        self.boolean(record["deregistered"], "abroad.deregistered")
        self.string(record.get("country"), "abroad.country", nullable=True)
        self.iso_date(record.get("date"), "abroad.date", nullable=True)
        return {
            "deregistered": record["deregistered"],
            "country": record.get("country"),
            "date": record.get("date"),
        }

    def address(self, record: object) -> dict[str, Any]:
        """Check an address and return it with every address key."""
        if not isinstance(record, dict):
            self.fail("address must be an object")
            return {}
        for key in ADDRESS_KEYS:
            value = record.get(key)
            if value is not None and not isinstance(value, str):
                self.fail(f"address.{key} must be a string or null")
        kato = record.get("kato")
        if isinstance(kato, str) and not (len(kato) == 9 and kato.isascii() and kato.isdigit()):
            self.fail(f"address.kato must be 9 digits, got {kato!r}")
        return {key: record.get(key) for key in ADDRESS_KEYS}

    def owner(self, index: int, record: object) -> dict[str, Any]:
        """Check one owner and their share."""
        field = f"owners[{index}]"
        checked = self.required(record, ("iin", "share"), field)
        if checked is None:
            return {}
        record = checked
        self.iin(record["iin"], f"{field}.iin")
        share = record["share"]
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            self.fail(f"{field}.share must be a number above 0 and at most 1, got {share!r}")
        return {"iin": record["iin"], "share": share}

    def iin(self, value: object, field: str) -> None:
        """Check an IIN field."""
        problem = iin_problem(value)
        if problem:
            self.fail(f"{field}: {problem}")

    def arc(self, value: object, field: str) -> None:
        """Check an ARC field."""
        problem = arc_problem(value, *self.arc_bounds)
        if problem:
            self.fail(f"{field}: {problem}")

    def string(self, value: object, field: str, nullable: bool = False) -> None:
        """Check a non-empty text field."""
        if value is None and nullable:
            return
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{field} must be a non-empty string, got {value!r}")

    def boolean(self, value: object, field: str) -> None:
        """Check a true/false field."""
        if not isinstance(value, bool):
            self.fail(f"{field} must be true or false, got {value!r}")

    def choice(self, value: object, field: str, choices: tuple[str, ...]) -> None:
        """Check a field against its allowed values."""
        if value not in choices:
            self.fail(f"{field} must be one of {', '.join(choices)}, got {value!r}")

    def iso_date(self, value: object, field: str, nullable: bool = False) -> None:
        """Check a YYYY-MM-DD date field."""
        if value is None and nullable:
            return
        try:
            valid = isinstance(value, str) and len(value) == 10 and bool(date.fromisoformat(value))
        except ValueError:
            valid = False
        if not valid:
            self.fail(f"{field} must be a date YYYY-MM-DD, got {value!r}")

    def unique(self, keys: list[str], collection: str, key: str) -> None:
        """Record every key that appears more than once in a collection."""
        seen: set[str] = set()
        for value in keys:
            if value in seen:
                self.problems.append(f"{collection}: {key} {value} appears more than once")
            seen.add(value)


def _label(collection: str, index: int, record: object, key: str) -> str:
    """Name a record by position and, when it has one, by its key."""
    value = record.get(key) if isinstance(record, dict) else None
    return (
        f"{collection}[{index}] ({key} {value})"
        if isinstance(value, str)
        else f"{collection}[{index}]"
    )
