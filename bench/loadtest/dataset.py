"""The load test's made-up registries: one applicant and one flat per application."""

from datetime import date

from service_tasks.identifiers import iin_check_digit

OWNERS = 20
APPLICATION_DATE = "2026-11-27"
# The counter path's adults apply before the online-first rule (1 November 2025) that has
# since sent adults of full capacity online.
COUNTER_DATE = "2025-10-31"
PATHS = ("consent", "counter", "timeout")


def iin(birth: date, serial: int, female: bool = False) -> str:
    """Return a valid IIN for a person born in the 1900s with a serial number."""
    century = "4" if female else "3"
    for bump in range(100):
        prefix = f"{birth:%y%m%d}{century}{(serial + bump) % 10000:04d}"[:11]
        digit = iin_check_digit(prefix)
        if digit is not None:
            return prefix + str(digit)
    raise ValueError("no check digit for any serial")


OLD_HOME = "0352000000000000"
OLD_REGISTRATION = {"arc": OLD_HOME, "kind": "permanent", "since": "2010-01-01"}


def person(number: str, serial: int, phone: bool, registration: dict | None = None) -> dict:
    """Return an adult citizen with a valid ID card, registered where given."""
    return {
        "iin": number, "surname": f"Loadov{serial}", "given_name": "Test", "patronymic": None,
        "birth_date": f"19{number[0:2]}-{number[2:4]}-{number[4:6]}", "sex": "male",
        "citizenship": "KZ", "alive": True, "legal_capacity": "full",
        "documents": [{"kind": "id_card", "number": f"{serial:09d}", "valid_until": "2031-01-01"}],
        "phone": f"+7701{serial:07d}" if phone else None, "parents": [], "guardians": [],
        "registration": registration, "abroad": None,
    }  # fmt: skip


def premises(arc: str, flat: int, owner: str) -> dict:
    """Return a titled flat in Karaganda with one owner."""
    return {
        "arc": arc,
        "address": {
            "region": "Karaganda region", "district": "Kazybek bi district",
            "settlement": "Karaganda", "kato": "351310000", "street": "Load street",
            "building": "1", "block": None, "flat": str(flat), "postcode": "100000",
        },
        "kind": "flat", "accommodation": False, "title": True, "state_rental": False,
        "rental_contract": [], "owners": [{"iin": owner, "share": 1}],
    }  # fmt: skip


def build(count: int) -> tuple[dict, list[dict]]:
    """Return the data set and the applications: number, path, data and the owner's IIN."""
    owners = [iin(date(1960, 1, 1 + k % 28), 5000 + k) for k in range(OWNERS)]
    persons = [person(o, 900000 + k, phone=True) for k, o in enumerate(owners)]
    # Every applicant moves from a registration of their own: a write half done would show.
    places = [premises(OLD_HOME, 0, owners[0])]
    applications = []
    for n in range(count):
        applicant = iin(date(1970 + n % 30, 1 + n % 12, 1 + n % 28), n)
        persons.append(person(applicant, n, phone=True, registration=OLD_REGISTRATION))
        arc = f"0351{n:012d}"
        owner = owners[n % OWNERS]
        places.append(premises(arc, n, owner))
        path = PATHS[n % len(PATHS)]
        applications.append(
            {
                "number": f"L-{n:06d}",
                "path": path,
                "owner": owner,
                "data": {
                    "application_number": f"L-{n:06d}",
                    "channel": "service_centre" if path == "counter" else "online",
                    "registration_type": "permanent",
                    "applicant_iin": applicant,
                    "applicant_type": "self",
                    "person_iin": applicant,
                    "arc": arc,
                    "arrived_from_abroad": False,
                    "application_date": COUNTER_DATE if path == "counter" else APPLICATION_DATE,
                },
            }
        )
    return {"persons": persons, "premises": places}, applications
