"""The online application's data, and the documents people sign: what they read is what they sign.

`render` is the one function that turns the runtime's document of a signed act (the data part:
`webapp.runtime.signatures`) into the bytes a signature covers: a readable text in the signer's
language, then a separator line, then the canonical JSON of the data. The text names the
people and the premises as the registries know them now (names by IIN, the address by ARC, the
owners who must consent), so the review page, the runtime's step and the command line build the
same bytes from the same submitted data, and a signature made over anything else is refused.

Texts are translated by a `translate` function (gettext), so a catalogue per process can supply
them; `Documents` uses the interface's catalogues, which need no request to be read.
"""

from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations

from service_tasks.errors import BusinessError
from webapp.privacy import POLICY, View
from webapp.runtime.errors import Unavailable
from webapp.runtime.signatures import Rendered
from webapp.signing.canonical import canonical_bytes
from webapp.signing.errors import DocumentLanguageUnknown

SERVICE = "residence_registration"
APPLICANT_TYPES = {"self": "self", "child": "parent", "ward": "guardian", "attorney": "attorney"}
LANGUAGES = ("en", "kk", "ru")
TRANSLATIONS = Path(__file__).resolve().parent.parent / "web" / "translations"
# Between the text and the data: a line no text of ours contains.
DATA_SEPARATOR = "\n\n-----BEGIN SIGNED DATA-----\n"
# Signers are citizens: they see of other people what the privacy policy shows an applicant.
SIGNER_VIEW = View(POLICY["applicant"], b"")

Translate = Callable[[str], str]
Lookup = Callable[[str, str], dict[str, Any] | None]


def application_document(
    form: Mapping[str, Any], applicant_iin: str, application_date: str
) -> dict[str, Any]:
    """Return the application to sign from the checked form values: the process's start data."""
    for_whom = form["for_whom"]
    document: dict[str, Any] = {
        "service": SERVICE,
        "channel": "online",
        "registration_type": form["registration_type"],
        "applicant_iin": applicant_iin,
        "applicant_type": APPLICANT_TYPES[for_whom],
        "person_iin": applicant_iin if for_whom == "self" else form["person_iin"],
        "arc": form["arc"],
        "arrived_from_abroad": bool(form.get("arrived_from_abroad")),
        "application_date": application_date,
    }
    if form["registration_type"] == "temporary":
        document["period_months"] = int(form["period_months"])
    if form.get("ownership") == "not_owner":
        document["declared_owner_iin"] = form["owner_iin"]
        document["declared_address"] = form["address_text"]
    return document


def address_text(premises: Mapping[str, Any], _: Translate) -> str:
    """Return the premises' address on one line, or an empty string when it is unknown."""
    address = premises.get("address") or {}
    parts = [address.get("settlement"), address.get("district")]
    street = " ".join(str(p) for p in (address.get("street"), address.get("building")) if p)
    parts.append(street)
    if address.get("block"):
        parts.append(_("block %(block)s") % {"block": address["block"]})
    if address.get("flat"):
        parts.append(_("flat %(flat)s") % {"flat": address["flat"]})
    return ", ".join(str(p) for p in parts if p)


def person_name(person: Mapping[str, Any] | None) -> str:
    """Return a person's full name as the population registry holds it, or an empty string."""
    person = person or {}
    parts = (person.get("surname"), person.get("given_name"), person.get("patronymic"))
    return " ".join(str(p) for p in parts if p)


def _who(iin: str | None, lookup: Lookup, _: Translate) -> str:
    """Return `Name, IIN …` of a person as the signer may see them."""
    if not iin:
        return "—"
    name = SIGNER_VIEW(person_name(lookup("population.person", iin)), "full_name")
    shown = SIGNER_VIEW(iin, "iin")
    return _("%(name)s, IIN %(iin)s") % {"name": name, "iin": shown} if name else shown


def _registration(data: Mapping[str, Any], _: Translate) -> str:
    """Return the kind of registration, with its period for a temporary one."""
    if data.get("registration_type") == "temporary":
        months = data.get("period_months")
        return _("Temporary (place of stay), for %(months)s months") % {"months": months}
    if data.get("registration_type") == "permanent":
        return _("Permanent (place of residence)")
    return str(data.get("registration_type") or "—")


def _applicant_type(code: Any, _: Translate) -> str:
    """Return in words in what capacity the applicant acts."""
    words = {
        "self": _("for themself"),
        "parent": _("as a parent or legal representative of the person"),
        "guardian": _("as the person's guardian"),
        "attorney": _("by notarised power of attorney"),
    }
    return words.get(str(code), str(code))


def _premises_lines(data: Mapping[str, Any], lookup: Lookup, _: Translate) -> list[str]:
    """Return the address looked up by ARC, the ARC and the kind of registration."""
    arc = str(data.get("arc") or "")
    premises = lookup("address.premises", arc) if arc else None
    address = SIGNER_VIEW(address_text(premises or {}, _), "address")
    return [
        _("Address: %(address)s") % {"address": address or _("not found in the address register")},
        _("Address registration code (ARC): %(arc)s") % {"arc": arc or "—"},
        _("Kind of registration: %(kind)s") % {"kind": _registration(data, _)},
    ]


def _owners_to_consent(data: Mapping[str, Any], lookup: Lookup, _: Translate) -> str:
    """Return who must consent: the owners on title other than the applicant."""
    arc = str(data.get("arc") or "")
    title = lookup("realestate.title", arc) if arc else None
    owners = [o.get("iin") for o in (title or {}).get("owners") or [] if o.get("iin")]
    others = [iin for iin in owners if iin != data.get("applicant_iin")]
    if not owners and data.get("declared_owner_iin"):
        others = [str(data["declared_owner_iin"])]
    if not others:
        return _("Consent: nobody else, the applicant is the sole owner")
    names = "; ".join(_who(iin, lookup, _) for iin in others)
    return _("Owners who must consent: %(owners)s") % {"owners": names}


def _application_text(data: Mapping[str, Any], lookup: Lookup, _: Translate) -> list[str]:
    """Return the lines of an application for registration."""
    lines = [
        _("Application for registration at the place of residence"),
        _("Application date: %(date)s") % {"date": data.get("application_date") or "—"},
        "",
        _("Applicant: %(who)s") % {"who": _who(data.get("applicant_iin"), lookup, _)},
        _("Applies: %(how)s") % {"how": _applicant_type(data.get("applicant_type"), _)},
        _("Person registered: %(who)s") % {"who": _who(data.get("person_iin"), lookup, _)},
        *_premises_lines(data, lookup, _),
    ]
    if data.get("arrived_from_abroad"):
        lines.append(_("Arrived from abroad for permanent residence"))
    if data.get("declared_address"):
        declared = SIGNER_VIEW(str(data["declared_address"]), "address")
        lines.append(_("Address as the applicant gives it: %(address)s") % {"address": declared})
    lines += [
        _owners_to_consent(data, lookup, _),
        "",
        _("I ask for this registration and confirm that the data above are true."),
    ]
    return lines


def _request_lines(title: str, number: Any, owner: Any, context: Mapping[str, Any],
                   lookup: Lookup, _: Translate) -> list[str]:  # fmt: skip
    """Return the lines of a consent request: whose application, for whom, where."""
    return [
        title,
        _("Application %(number)s") % {"number": number or "—"},
        "",
        _("Owner: %(who)s") % {"who": _who(owner, lookup, _)},
        _("Applicant: %(who)s") % {"who": _who(context.get("applicant_iin"), lookup, _)},
        _("Person registered: %(who)s") % {"who": _who(context.get("person_iin"), lookup, _)},
        *_premises_lines(context, lookup, _),
    ]


def _consent_text(act: Mapping[str, Any], context: Mapping[str, Any], lookup: Lookup,
                  _: Translate) -> list[str]:  # fmt: skip
    """Return the lines of an owner's answer to a consent request."""
    given = (act.get("answer") or {}).get("consent_given")
    answer = (
        _("I consent to this registration at premises I own.")
        if given
        else _("I refuse this registration at premises I own.")
    )
    title = _("Owner's answer to a consent request")
    lines = _request_lines(title, act.get("business_key"), act.get("signer"), context, lookup, _)
    return [*lines, "", answer]


def _fields_text(act: Mapping[str, Any], _: Translate) -> list[str]:
    """Return the lines of any other act: its task's name and each answered value."""
    lines = [str(act.get("name") or act.get("element") or _("Signed act"))]
    if act.get("business_key"):
        lines.append(_("Application %(number)s") % {"number": act["business_key"]})
    for key, value in sorted((act.get("answer") or {}).items()):
        lines.append(f"{key}: {value}")
    return lines


def document_text(act: Mapping[str, Any], context: Mapping[str, Any], lookup: Lookup,
                  translate: Translate) -> str:  # fmt: skip
    """Return the readable text of an act's document."""
    answer = act.get("answer") or {}
    if "task" not in act and "arc" in answer and "registration_type" in answer:
        lines = _application_text(answer, lookup, translate)
    elif "task" in act and "consent_given" in answer:
        lines = _consent_text(act, context, lookup, translate)
    else:
        lines = _fields_text(act, translate)
    return "\n".join(lines)


def render(act: dict, context: Mapping[str, Any], language: str, lookup: Lookup,
           translate: Translate) -> Rendered:  # fmt: skip
    """Return the signed document: the text in `language`, then the canonical data part."""
    text = document_text(act, context, lookup, translate)
    content = (text + DATA_SEPARATOR).encode() + canonical_bytes(act) + b"\n"
    return Rendered(language, text, content)


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> NullTranslations:
    """Return the interface's compiled catalogue of a language (English needs none)."""
    return Translations.load(str(TRANSLATIONS), [language])


class Documents:
    """The product's document renderer handed to the runtime: texts from the catalogues, facts
    from the registries' operators (`population.person`, `address.premises`,
    `realestate.title`)."""

    def __init__(self, operators: Mapping[str, Callable[..., dict]],
                 translations: Callable[[str], Translate] | None = None) -> None:  # fmt: skip
        self.operators = operators
        self.translations = translations or (lambda language: catalogue(language).gettext)

    def lookup(self, operator: str, key: str) -> dict[str, Any] | None:
        """Ask a registry; an unknown key gives None (shown as such). A registry that does not
        answer stops the act with nothing changed: a document must read the same each time it
        is rendered, or its signature could not be checked."""
        call = self.operators.get(operator)
        if call is None:
            return None
        try:
            return call(key)
        except (BusinessError, ValueError):  # no such record, or a key no record can have
            return None
        except Exception as error:  # noqa: BLE001  (a connector's failure, whatever its kind)
            raise Unavailable(f"the {operator} registry did not answer: try again") from error

    def request_text(self, number: str, owner: str, context: Mapping, language: str) -> str:
        """Return the text of a consent request as its answer will show it, before the answer."""
        _ = self.translations(language if language in LANGUAGES else "en")
        title = _("Request for the owner's consent")
        return "\n".join(_request_lines(title, number, owner, context, self.lookup, _))

    def __call__(self, act: dict, context: Mapping, language: str) -> Rendered:
        """Render the act's document in a language of the interface, or refuse the language."""
        if language not in LANGUAGES:
            raise DocumentLanguageUnknown(
                f"There is no text of the document in {language!r}: sign it in one of "
                f"{', '.join(LANGUAGES)}."
            )
        return render(act, context, language, self.lookup, self.translations(language))
