"""The demo's made-up people and premises, and the applications they make over a month.

Everything is drawn from one seeded random generator, so the same seed gives the same month.
The people are added to the sandbox registries beside the personas of the default data set;
the personas themselves are never used, so they stay as the tests and the README describe them.
"""

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from service_tasks.identifiers import iin_check_digit

from .hours import LOCAL, office_hours, online_hours

SURNAMES = (
    "Akhmetov", "Bekov", "Zhumabayev", "Omarov", "Nurlanov", "Seitkali", "Tokayev",
    "Abenov", "Kassymov", "Ismailov", "Sadykov", "Dzhaksybekov", "Mukanov", "Ospanov",
)  # fmt: skip
GIVEN = {
    "male": ("Yerlan", "Nurlan", "Arman", "Daulet", "Askar", "Timur", "Bauyrzhan", "Serik"),
    "female": ("Aigerim", "Dana", "Gulnara", "Saule", "Madina", "Aruzhan", "Zhanar", "Aliya"),
}
CITIES = (
    # (settlement, region, KATO prefix, ARC prefix, postcode, streets)
    ("Astana", "Astana city", "711", "0201", "010000", ("Kabanbay Batyr", "Mangilik El", "Turan")),
    ("Almaty", "Almaty city", "751", "0202", "050000", ("Abay", "Dostyk", "Tole Bi", "Satpayev")),
    ("Shymkent", "Shymkent city", "791", "0203", "160000", ("Tauke Khan", "Baidibek Bi")),
    ("Karaganda", "Karaganda region", "351", "0351", "100000", ("Bukhar Zhyrau", "Erubayev")),
)
# How often each kind of application arrives, per hundred: most register, some are refused
# for each common reason, a few are cancelled when owners do not answer in time.
SCENARIOS = {
    "online_consent": 30.0,
    "online_sole_owner": 8.0,
    "online_parent": 4.0,
    "online_dormitory": 3.0,
    "online_state_rental": 2.0,
    "online_returnee": 1.5,
    "counter_self": 14.0,
    "counter_parent": 4.0,
    "counter_guardian": 2.0,
    "counter_attorney": 3.0,
    "counter_refused_by_clerk": 2.5,
    "crowded_address": 2.5,
    "under_14": 2.0,
    "person_not_found": 1.5,
    "not_a_citizen": 1.5,
    "document_invalid": 2.0,
    "no_authority_online_attorney": 2.0,
    "no_authority_not_a_parent": 1.0,
    "owner_refused": 3.0,
    "consent_timeout": 4.0,
    "not_in_rental_contract": 1.5,
    "no_title": 1.5,
    "capital_cap_exceeded": 1.0,
}
COUNTER = {"counter_self", "counter_parent", "counter_guardian", "counter_attorney",
           "counter_refused_by_clerk"}  # fmt: skip
# Where counter applications are made, weighted as the centres' desks (centres.json); on
# Saturdays only Astana's is open.
CENTRE_WEIGHTS = {"AST-YESIL": 3, "ALM-BOSTANDYK": 2}
SATURDAY = 5
CAPITAL_CAP = 30  # residents of the capital's crowded flat: the local cap in settings.json
# Counter checks that arrive this close to the end may be left to lie, overdue.
ABANDONED_WITHIN = timedelta(days=3)
OVERDUE_BY = timedelta(hours=1)  # and so long before the end at least: past their term
CROWDED = 16  # residents of the crowded flat elsewhere: over the rubber-flat threshold


@dataclass(frozen=True)
class Plan:
    """What the people of one application will do when the process asks them.

    `consent`: `given`, `refused` or `silent` (nobody answers); `check`: the clerk's
    `check_result`; `review`: the supervisor's on a crowded address; `abandoned`: nobody works
    the clerk's task (it stays open, overdue).
    """

    consent: str = "given"
    check: str = "accepted"
    review: str = "accepted"
    abandoned: bool = False


@dataclass(frozen=True)
class Application:
    """One application of the month: when it arrives, its document and its people's plan."""

    arrives: datetime
    scenario: str
    data: dict
    plan: Plan = field(default_factory=Plan)


# What a scenario draws: the application's own fields, and the plan of its people.
Drawn = tuple[dict, Plan]


class Population:
    """Builds people and premises in the sandbox data set format, each IIN and ARC unique."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.persons: list[dict] = []
        self.premises: list[dict] = []
        self.serial = 0
        self.homes = [self.flat() for _ in range(500)]
        self.owned = [self.flat(owners=self.owners()) for _ in range(700)]

    def iin(self, birth: date, sex: str) -> str:
        """Return a new valid IIN for the birth date and sex."""
        century = {1900: ("3", "4"), 2000: ("5", "6")}[birth.year // 100 * 100]
        digit = century[sex == "female"]
        while True:
            self.serial += 1
            prefix = f"{birth:%y%m%d}{digit}{self.serial % 10000:04d}"
            check = iin_check_digit(prefix)
            if check is not None:
                return prefix + str(check)

    def person(
        self,
        age: int,
        on: date,
        registered_at: str | None = "home",
        documents: tuple[str, ...] | None = None,
        **changes,
    ) -> dict:
        """Add a person of `age` on the date and return their record."""
        rng = self.rng
        sex = rng.choice(("male", "female"))
        birth = on - timedelta(days=int(age * 365.25) + rng.randrange(1, 360))
        number = self.iin(birth, sex)
        kinds = documents or (("id_card",) if age >= 16 else ("birth_certificate",))
        if registered_at == "home":
            registered_at = rng.choice(self.homes)["arc"]
        record = {
            "iin": number, "surname": rng.choice(SURNAMES) + ("a" if sex == "female" else ""),
            "given_name": rng.choice(GIVEN[sex]), "patronymic": None,
            "birth_date": birth.isoformat(), "sex": sex, "citizenship": "KZ", "alive": True,
            "legal_capacity": "full",
            "documents": [
                {"kind": kind, "number": f"{self.serial:09d}",
                 "valid_until": (on + timedelta(days=rng.randrange(200, 3600))).isoformat()}
                for kind in kinds
            ],
            "phone": f"+7701{self.serial:07d}" if age >= 16 else None,
            "parents": [], "guardians": [],
            "registration": {"arc": registered_at, "kind": "permanent", "since": "2015-06-01"}
            if registered_at else None,
            "abroad": None,
        }  # fmt: skip
        record.update(changes)
        self.persons.append(record)
        return record

    def owners(self, count: int | None = None) -> list[dict]:
        """Return new adult owners with their shares."""
        count = count or self.rng.choice((1, 1, 1, 2))
        people = [self.person(self.rng.randrange(30, 75), date(2026, 1, 1)) for _ in range(count)]
        return [{"iin": p["iin"], "share": round(1 / count, 2)} for p in people]

    def flat(self, city=None, kind: str = "flat", owners=(), **changes) -> dict:
        """Add premises in a city and return their record."""
        rng = self.rng
        settlement, region, kato, arc_prefix, postcode, streets = city or rng.choice(CITIES)
        number = len(self.premises) + 1
        record = {
            "arc": f"{arc_prefix}9{number:011d}",
            "address": {
                "region": region, "district": None, "settlement": settlement,
                "kato": f"{kato}{rng.randrange(100000, 999999)}", "street": rng.choice(streets),
                "building": str(rng.randrange(1, 120)), "block": None,
                "flat": str(rng.randrange(1, 200)) if kind == "flat" else None,
                "postcode": postcode,
            },
            "kind": kind, "accommodation": kind in ("dormitory", "hotel", "sanatorium"),
            "title": True, "state_rental": False, "rental_contract": [], "owners": list(owners),
        }  # fmt: skip
        record.update(changes)
        self.premises.append(record)
        return record

    def dataset(self) -> dict:
        """Return the people and premises as a sandbox data set document."""
        return {"persons": self.persons, "premises": self.premises}


class Month:
    """Draws a month of applications over a population."""

    def __init__(self, rng: random.Random, population: Population):
        self.rng = rng
        # The centres draw from a stream of their own: the month's people stay as they were.
        self.centres = random.Random(len(CENTRE_WEIGHTS))  # nosec B311
        self.people = population
        people = population
        self.dormitory = people.flat(kind="dormitory")
        self.untitled = people.flat(kind="house", title=False)
        self.rental = people.flat(state_rental=True)
        self.capital = people.flat(CITIES[0], owners=people.owners(1))
        self.crowded = people.flat(CITIES[3], owners=people.owners(1))
        for premises, residents in ((self.capital, CAPITAL_CAP), (self.crowded, CROWDED)):
            for _ in range(residents):
                people.person(rng.randrange(18, 60), date(2026, 1, 1), premises["arc"])

    def arrivals(
        self, count: int, start: datetime, end: datetime, outages: list[tuple[datetime, datetime]]
    ) -> list[Application]:
        """Return `count` applications arriving between start and end, in time order.

        However few they are, each scenario arrives once in the first half of the month (so
        that every outcome, a consent's timeout too, is reached), some arrive in each outage
        (sole owners registered at once, so the failing registry is asked) and a few counter
        checks near the end are never worked.
        """
        names, weights = zip(*SCENARIOS.items(), strict=True)
        chosen = self.rng.choices(names, weights, k=max(0, count - len(names)))
        middle = start + (end - start) / 2
        applications = [self.application(name, start, middle) for name in names]
        applications += [self.application(name, start, end) for name in chosen]
        for begins, ends in outages:
            for _ in range(2):
                case = self.application("online_sole_owner", begins, min(ends, end))
                data = {**case.data, "registration_type": "permanent"}
                data.pop("period_months", None)
                applications.append(replace(case, data=data))
        for _ in range(max(3, count // 150)):
            case = self.application("counter_self", end - ABANDONED_WITHIN, end - OVERDUE_BY)
            applications.append(replace(case, plan=replace(case.plan, abandoned=True)))
        return sorted(applications, key=lambda a: a.arrives)

    def application(self, scenario: str, start: datetime, end: datetime) -> Application:
        """Return one application of a scenario, arriving when its channel is open."""
        rng = self.rng
        hours = office_hours if scenario in COUNTER else online_hours
        arrives = hours(rng, start, end)
        on = arrives.astimezone(LOCAL).date()
        build = getattr(self, scenario)
        data, plan = build(on)
        document = {
            "channel": "service_centre" if scenario in COUNTER else "online",
            "registration_type": "permanent",
            "applicant_type": "self",
            "arrived_from_abroad": False,
            "application_date": on.isoformat(),
            **data,
        }
        if document["registration_type"] == "permanent" and rng.random() < 0.3:
            document["registration_type"] = "temporary"
        if document["registration_type"] == "temporary":
            document["period_months"] = rng.choice((1, 3, 6, 6, 12, 12))
        if "person_iin" not in document:
            document["person_iin"] = document["applicant_iin"]
        if scenario in COUNTER:
            document["service_centre_id"] = self.centre(arrives)
        return Application(arrives, scenario, document, plan)

    def centre(self, arrives: datetime) -> str:
        """Return the service centre a counter application is made at."""
        if arrives.astimezone(LOCAL).weekday() == SATURDAY:
            return next(iter(CENTRE_WEIGHTS))
        return self.centres.choices(list(CENTRE_WEIGHTS), list(CENTRE_WEIGHTS.values()))[0]

    # Scenarios: each returns the application's own fields and the people's plan.

    def adult(self, on: date, **changes) -> str:
        """Return the IIN of a new adult."""
        return self.people.person(self.rng.randrange(18, 70), on, **changes)["iin"]

    def owned_flat(self) -> str:
        """Return the ARC of a flat someone else owns."""
        return self.rng.choice(self.people.owned)["arc"]

    def online_consent(self, on: date) -> Drawn:
        """An adult moves into a flat others own, who consent online."""
        return {"applicant_iin": self.adult(on), "arc": self.owned_flat()}, Plan()

    def online_sole_owner(self, on: date) -> Drawn:
        """An adult registers in their own flat: nobody to ask."""
        applicant = self.adult(on)
        flat = self.people.flat(owners=[{"iin": applicant, "share": 1}])
        return {"applicant_iin": applicant, "arc": flat["arc"]}, Plan()

    def child(self, on: date, age: int, parent: str) -> str:
        """Return the IIN of a new child of `parent`."""
        documents = ("id_card",) if age >= 16 else ("birth_certificate",)
        record = self.people.person(age, on, documents=documents, parents=[parent])
        return record["iin"]

    def parent_case(self, on: date, age: int) -> dict:
        """Return the fields of a parent applying for their child of `age`."""
        parent = self.adult(on)
        return {
            "applicant_iin": parent,
            "applicant_type": "parent",
            "person_iin": self.child(on, age, parent),
            "arc": self.owned_flat(),
            "registration_type": "permanent",
        }

    def online_parent(self, on: date) -> Drawn:
        """A parent registers their child of 14 to 17; the owners consent or a clerk checks."""
        return self.parent_case(on, self.rng.randrange(14, 18)), Plan()

    counter_parent = online_parent  # the channel is the scenario's: see COUNTER

    def under_14(self, on: date) -> Drawn:
        """A parent applies for a child under 14: refused `under_14`."""
        return self.parent_case(on, self.rng.randrange(3, 14)), Plan()

    def no_authority_not_a_parent(self, on: date) -> Drawn:
        """Someone not named as the child's parent applies: `no_authority`."""
        data = self.parent_case(on, self.rng.randrange(14, 18))
        data["applicant_iin"] = self.adult(on)
        return data, Plan()

    def online_dormitory(self, on: date) -> Drawn:
        """A stay in a dormitory: a clerk checks the administration's petition."""
        check = "accepted" if self.rng.random() < 0.85 else "owner_refused"
        return {"applicant_iin": self.adult(on), "arc": self.dormitory["arc"],
                "registration_type": "temporary"}, Plan(check=check)  # fmt: skip

    def online_state_rental(self, on: date) -> Drawn:
        """A person named in the state rental contract registers without consent."""
        applicant = self.adult(on)
        self.rental["rental_contract"].append(applicant)
        return {"applicant_iin": applicant, "arc": self.rental["arc"]}, Plan()

    def not_in_rental_contract(self, on: date) -> Drawn:
        """A person not in the state rental contract: `not_in_rental_contract`."""
        return {"applicant_iin": self.adult(on), "arc": self.rental["arc"]}, Plan()

    def online_returnee(self, on: date) -> Drawn:
        """A return from abroad without the consular mark: a clerk checks a document."""
        abroad = {"deregistered": False, "country": self.rng.choice(("Russian Federation",
                  "Turkey", "Germany")), "date": None}  # fmt: skip
        check = "accepted" if self.rng.random() < 0.6 else "no_deregistration_proof"
        data = {"applicant_iin": self.adult(on, registered_at=None, abroad=abroad),
                "arc": self.owned_flat(), "arrived_from_abroad": True}  # fmt: skip
        return data, Plan(check=check)

    def counter_self(self, on: date) -> Drawn:
        """An adult of limited capacity moves into a flat others own, at a service centre:
        the online-first rule sends fully capable adults online, not them."""
        data = {"applicant_iin": self.adult(on, legal_capacity="limited"), "arc": self.owned_flat()}
        return data, Plan()

    def counter_refused_by_clerk(self, on: date) -> Drawn:
        """The clerk refuses at the counter with a code of the checklist."""
        check = self.rng.choice(("document_invalid", "no_authority", "owner_refused"))
        data, _ = self.counter_self(on)
        return data, Plan(check=check)

    def counter_guardian(self, on: date) -> Drawn:
        """A guardian registers an adult ward declared incapable."""
        guardian = self.adult(on)
        ward = self.adult(on, legal_capacity="incapable", guardians=[guardian])
        return {"applicant_iin": guardian, "applicant_type": "guardian", "person_iin": ward,
                "arc": self.owned_flat()}, Plan()  # fmt: skip

    def counter_attorney(self, on: date) -> Drawn:
        """An attorney registers the principal at a service centre."""
        return {"applicant_iin": self.adult(on), "applicant_type": "attorney",
                "person_iin": self.adult(on), "arc": self.owned_flat()}, Plan()  # fmt: skip

    no_authority_online_attorney = counter_attorney  # the portal's channel refuses attorneys

    def crowded_address(self, on: date) -> Drawn:
        """An address over the rubber-flat threshold: a supervisor reviews it."""
        review = "accepted" if self.rng.random() < 0.4 else "data_unreliable"
        return {"applicant_iin": self.adult(on), "arc": self.crowded["arc"]}, Plan(review=review)

    def capital_cap_exceeded(self, on: date) -> Drawn:
        """A flat of the capital at its local cap: `capital_cap_exceeded`."""
        return {"applicant_iin": self.adult(on), "arc": self.capital["arc"]}, Plan()

    def person_not_found(self, on: date) -> Drawn:
        """An IIN the population registry does not know: `person_not_found`."""
        birth = on - timedelta(days=self.rng.randrange(7000, 20000))
        unknown = self.people.iin(birth, "male")
        return {"applicant_iin": unknown, "arc": self.owned_flat()}, Plan()

    def not_a_citizen(self, on: date) -> Drawn:
        """A foreign citizen applies: `not_a_citizen`."""
        applicant = self.adult(on, citizenship="RU", documents=("passport",))
        return {"applicant_iin": applicant, "arc": self.owned_flat()}, Plan()

    def document_invalid(self, on: date) -> Drawn:
        """The ID card expired before the application: `document_invalid`."""
        applicant = self.people.person(self.rng.randrange(18, 70), on)
        applicant["documents"][0]["valid_until"] = (on - timedelta(days=40)).isoformat()
        return {"applicant_iin": applicant["iin"], "arc": self.owned_flat()}, Plan()

    def owner_refused(self, on: date) -> Drawn:
        """An owner refuses consent: `owner_refused`."""
        return {"applicant_iin": self.adult(on), "arc": self.owned_flat()}, Plan(consent="refused")

    def consent_timeout(self, on: date) -> Drawn:
        """No owner answers within the consent window: `consent_timeout`."""
        return {"applicant_iin": self.adult(on), "arc": self.owned_flat()}, Plan(consent="silent")

    def no_title(self, on: date) -> Drawn:
        """A house without title documents: `no_title`."""
        return {"applicant_iin": self.adult(on), "arc": self.untitled["arc"]}, Plan()
