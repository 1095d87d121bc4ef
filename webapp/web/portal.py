"""The applicant's personal account: order the service, sign, follow applications, consent."""

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from service_tasks.identifiers import arc_problem, iin_problem
from webapp.db.base import utcnow
from webapp.db.models import HumanTask, Instance
from webapp.db.online import SignedDocument
from webapp.online.documents import DATA_SEPARATOR, application_document
from webapp.online.policy import ChannelDecision, channel_decision
from webapp.online.sms import SandboxSmsGateway, outbox
from webapp.runtime.errors import TirkeuError
from webapp.runtime.signatures import Signing
from webapp.runtime.views import InstanceView
from webapp.signing import SigningError, SigningMethod, request_code, verify_code

from .auth import role_required
from .database import db, runtime
from .i18n import local_today
from .labels import refusal_label
from .security import content_security_policy

bp = Blueprint("portal", __name__, url_prefix="/portal")
PENDING = "portal_signing"
# Events of an instance that tell its applicant something; the rest is internal.
HISTORY_KINDS = ("instance_started", "timer_fired", "instance_completed", "instance_terminated")
# Of task events, only those of people's tasks: what waits for whom, and what they did.
TASK_KINDS = ("task_ready", "task_completed", "task_cancelled")


def shown_in_history(event: Any) -> bool:
    """Tell whether an instance event belongs in the applicant's status history."""
    if event.kind in HISTORY_KINDS:
        return True
    return event.kind in TASK_KINDS and "UserTask" in (event.task_type or "")


def history_of(events: list[Any]) -> list[tuple[Any, int]]:
    """Return the applicant's status history as (event, how many alike) entries.

    Alike events of one moment (both co-owners' consent requests opening, say) are one entry.
    """
    entries: list[tuple[Any, int]] = []
    for event in filter(shown_in_history, events):
        if entries:
            last, count = entries[-1]
            alike = (last.kind, last.name, last.bpmn_id) == (event.kind, event.name, event.bpmn_id)
            if alike and abs((event.at - last.at).total_seconds()) < 60:
                entries[-1] = (last, count + 1)
                continue
        entries.append((event, 1))
    return entries


PERIOD = re.compile(r"^[0-9]{1,2}$")
# Refusals of a signature as the signer reads them; others keep the signing module's message.
SIGNING_REFUSALS = {
    "certificate_of_another_person": _l(
        "This EDS belongs to another person: sign with your own key."
    ),
    "certificate_untrusted": _l(
        "This EDS was not issued by a certification authority the service trusts."
    ),
    "certificate_expired": _l("This EDS certificate has expired: sign with a valid key."),
    "certificate_not_yet_valid": _l("This EDS certificate is not valid yet."),
    "certificate_not_for_signing": _l("This EDS key may not sign documents: use the signing key."),
    "certificate_unreadable": _l("The certificate of this EDS cannot be read."),
    "document_mismatch": _l(
        "The signature is over another document: review the document and sign again."
    ),
    "signature_invalid": _l("The signature cannot be read or does not match the document."),
    "signature_missing": _l("Nothing was signed: sign the document first."),
    "key_unsupported": _l(
        "This kind of key is not accepted yet: sign with an RSA or elliptic-curve key."
    ),
    "document_language_unknown": _l("The document was signed in a language the service lacks."),
    "code_not_entered": _l("Request a code and enter it to sign."),
    "code_expired": _l("The code has expired; request a new one."),
    "code_already_used": _l("This code has already been used; request a new one."),
    "code_superseded": _l("A newer code was sent; enter the latest code you received."),
    "attempts_exhausted": _l("No attempts are left for this code; request a new one."),
    "malformed_code": _l("A code is six digits."),
    "phone_unknown": _l(
        "Your phone is not in the mobile citizens database, so a code cannot be sent: sign "
        "with an EDS."
    ),
}

AT_A_CENTRE = _l("This application is made at a service centre, not online.")
# Why the channel policy sends an applicant type to a service centre, by applicant type.
CENTRE_REASONS = {
    "self": AT_A_CENTRE,
    "parent": AT_A_CENTRE,
    "guardian": AT_A_CENTRE,
    "attorney": _l(
        "An attorney is entitled to apply at a service centre, where the notarised power of "
        "attorney is presented, not online."
    ),
}


def applicant_iin() -> str:
    """Return the signed-in applicant's IIN; an account without one may not use the portal."""
    if not current_user.iin:
        abort(403)
    return current_user.iin


def process_id() -> str:
    """Return the process online applications start."""
    return current_app.config.get("COUNTER_PROCESS_ID", "residence_registration")


def phone_of(iin: str) -> str | None:
    """Return the person's phone from the mobile citizens database, None when not there."""
    lookup = runtime().operators.get("mobile.phone")
    return lookup(iin).get("phone") if lookup else None


def sms_gateway() -> Any:
    """Return the SMS gateway connector of the app."""
    return current_app.extensions["tirkeu_sms"]


def notices_of(application_number: str | None, iin: str) -> list[dict[str, Any]]:
    """Return the notices the process sent to the person about the application."""
    store = current_app.extensions.get("tirkeu_notices")
    if store is None or not application_number:
        return []
    return [w for w in store.writes("notify", application_number) if w["iin"] == iin]


def sms_notices_of(iin: str) -> list[dict[str, Any]]:
    """Return the text messages the process sent to the person, newest first."""
    store = current_app.extensions.get("tirkeu_notices")
    if store is None:
        return []
    sent = [w for w in store.writes("notify") if w["iin"] == iin]
    return [w for w in reversed(sent) if w["payload"].get("channel") == "sms"]


@bp.get("/")
@role_required("applicant")
def index() -> Any:
    """List the applicant's applications and open consent requests."""
    iin = applicant_iin()
    rows = db().scalars(
        select(Instance).where(Instance.process_id == process_id()).order_by(Instance.id.desc())
    )
    mine = [row for row in rows if (row.summary or {}).get("applicant_iin") == iin]
    requests = open_consent_requests(iin)
    return render_template("portal/index.html", applications=mine, requests=requests)


def open_consent_requests(iin: str) -> list[HumanTask]:
    """Return the consent requests assigned to the owner that still wait for an answer."""
    return list(
        db().scalars(
            select(HumanTask)
            .where(
                HumanTask.assignee == iin,
                HumanTask.role == "owner",
                HumanTask.state.in_(("ready", "claimed")),
            )
            .order_by(HumanTask.created_at)
        )
    )


def checked_application(form: Any, iin: str) -> tuple[dict[str, str], dict[str, str]]:
    """Return the typed form values and a reason per wrong field."""
    values = {key: form.get(key, "").strip() for key in (
        "registration_type", "period_months", "for_whom", "person_iin", "ownership", "arc",
        "owner_iin", "address_text")}  # fmt: skip
    values["arrived_from_abroad"] = "true" if form.get("arrived_from_abroad") else ""
    errors = {}
    if values["registration_type"] not in ("permanent", "temporary"):
        errors["registration_type"] = _("Choose permanent or temporary registration.")
    if values["registration_type"] == "temporary" and not PERIOD.match(values["period_months"]):
        errors["period_months"] = _("Give the period in whole months.")
    if values["for_whom"] not in ("self", "child", "ward", "attorney"):
        errors["for_whom"] = _("Choose for whom you apply.")
    elif values["for_whom"] != "self":
        if iin_problem(values["person_iin"]):
            errors["person_iin"] = _("Not a valid IIN: 12 digits with a correct check digit.")
        elif values["person_iin"] == iin:
            errors["person_iin"] = _("Give the IIN of the person you apply for, not your own.")
    if arc_problem(values["arc"]):
        errors["arc"] = _("Not a valid address registration code: 10 to 20 digits.")
    if values["ownership"] == "not_owner":
        if iin_problem(values["owner_iin"]):
            errors["owner_iin"] = _("Not a valid IIN: 12 digits with a correct check digit.")
        if not values["address_text"]:
            errors["address_text"] = _("Give the address of the premises.")
    return values, errors


def online_decision(applicant_type: str) -> ChannelDecision:
    """Return what the process's channel policy answers an online application of this type."""
    return channel_decision(
        db(),
        process_id(),
        "online",
        applicant_type,
        local_today().isoformat(),
        runtime().script_engine,
    )


def attorney_at_centre() -> bool:
    """Tell whether the channel policy sends an attorney applying online to a centre today."""
    return online_decision("attorney").answer == "service_centre"


@bp.route("/apply", methods=["GET", "POST"])
@role_required("applicant")
def apply() -> Any:
    """Show the application form; a correct one goes to review and signing."""
    iin = applicant_iin()
    at_centre = attorney_at_centre()
    if request.method == "GET":
        values = {"registration_type": "permanent", "for_whom": "self", "ownership": "owner"}
        return render_template(
            "portal/apply.html", values=values, errors={}, attorney_at_centre=at_centre
        )
    values, errors = checked_application(request.form, iin)
    if errors:
        page = render_template(
            "portal/apply.html", values=values, errors=errors, attorney_at_centre=at_centre
        )
        return page, 422
    data = application_document(values, iin, local_today().isoformat())
    decision = online_decision(data["applicant_type"])
    if not decision.accepted:
        # A channel answer, not a refusal: the applicant is entitled, at a service centre.
        reason = (
            CENTRE_REASONS.get(data["applicant_type"], "")
            if decision.answer == "service_centre"
            else refusal_label(decision.refusal_reason or "no_authority")
        )
        return render_template("portal/centre_only.html", reason=reason), 409
    waiting = {"purpose": "application", "data": data}
    signing = runtime().start_signing(process_id(), data, language())
    if signing is None:
        return submit_application(data, None)
    return to_signing(waiting, signing)


def language() -> str:
    """Return the language the signed-in user reads the interface in."""
    return str(get_locale() or "en")


def to_signing(waiting: dict[str, Any], signing: Signing) -> Any:
    """Keep what waits for the signature (the act's data, not its text) and go sign."""
    waiting["field"] = signing.field
    session[PENDING] = waiting
    return redirect(url_for("portal.sign"), 303)


def pending() -> dict[str, Any]:
    """Return the document waiting for the signed-in user's signature, or go to the form."""
    waiting = session.get(PENDING)
    if not waiting:
        flash(_("Nothing is waiting for your signature: fill in the application first."), "info")
        abort(redirect(url_for("portal.apply"), 303))
    return waiting


def signing_of(waiting: dict[str, Any], in_language: str) -> Signing:
    """Return the runtime's signing of the waiting act, its document rendered in a language.

    The runtime renders it as its step will, so the page shows the very bytes a signature
    must cover; an act that no longer needs a signature has nothing to sign here.
    """
    if waiting["purpose"] == "consent":
        signing = runtime().task_signing(waiting["task_id"], waiting["answer"], in_language)
    else:
        signing = runtime().start_signing(process_id(), waiting["data"], in_language)
    if signing is None:
        session.pop(PENDING, None)
        abort(404)
    return signing


@bp.get("/sign")
@role_required("applicant")
def sign() -> Any:
    """Show exactly the document to sign, as text and data, and the ways to sign it."""
    waiting = pending()
    iin = applicant_iin()
    signing = signing_of(waiting, language())
    ncalayer = current_app.config["NCALAYER_URL"]
    page = render_template(
        "portal/sign.html",
        waiting=waiting,
        rendered=signing.rendered,
        data_part=signing.rendered.content.decode().split(DATA_SEPARATOR, 1)[1],
        content_base64=base64.b64encode(signing.rendered.content).decode("ascii"),
        ncalayer_url=ncalayer,
        phone=phone_of(iin),
        challenge=waiting.get("challenge"),
    )
    response = Response(page)
    # The page's script talks to NCALayer on the signer's machine, and to nothing else.
    response.headers["Content-Security-Policy"] = content_security_policy(ncalayer)
    return response


@bp.get("/sign/document.txt")
@role_required("applicant")
def document_file() -> Response:
    """Return the exact bytes to sign (text and data), to sign them with any EDS tool."""
    rendered = signing_of(pending(), language()).rendered
    return Response(
        rendered.content,
        mimetype="text/plain; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=document.txt"},
    )


def refused(error: SigningError) -> Any:
    """Show the signing page again with the reason of the refusal, in the user's language."""
    flash(str(SIGNING_REFUSALS.get(error.code, error.message)), "error")
    return redirect(url_for("portal.sign"), 303)


def code_message(code: str, document: str, minutes: int) -> str:
    """Return the text of a one-time code message in the signer's language."""
    return _(
        "Tirkeu: %(code)s is your code to sign document %(document)s. Valid %(minutes)s min."
        " Never tell it to anyone.",
        code=code, document=document, minutes=minutes,
    )  # fmt: skip


@bp.post("/sign/code")
@role_required("applicant")
def send_code() -> Any:
    """Send a one-time code for the document to the signer's phone."""
    waiting = pending()
    iin = applicant_iin()
    rendered = signing_of(waiting, language()).rendered
    try:
        challenge = request_code(
            db(), signer_iin=iin, content=rendered.content, phone=phone_of(iin),
            send=sms_gateway().send, now=utcnow(), settings=current_app.config.get("SIGNING"),
            message=code_message,
        )  # fmt: skip
    except SigningError as error:
        return refused(error)
    waiting["challenge"] = {
        "id": challenge.challenge_id, "phone": challenge.phone, "language": rendered.language
    }  # fmt: skip
    session[PENDING] = waiting
    flash(_("A code was sent to %(phone)s.", phone=challenge.phone), "info")
    return redirect(url_for("portal.sign"), 303)


@bp.post("/sign/verify")
@role_required("applicant")
def verify() -> Any:
    """Accept the one-time code as the signature and finish."""
    waiting = pending()
    challenge = waiting.get("challenge") or {}
    in_language = challenge.get("language") or language()
    try:
        evidence = verify_code(
            db(), challenge_id=challenge.get("id", ""), signer_iin=applicant_iin(),
            content=signing_of(waiting, in_language).rendered.content,
            code=request.form.get("code", ""), now=utcnow(),
            settings=current_app.config.get("SIGNING"),
        )  # fmt: skip
    except SigningError as error:
        return refused(error)
    return finish(waiting, {**evidence.to_dict(), "language": in_language})


def posted_cms() -> str:
    """Return the CMS signature posted as base64 text, or from an uploaded file (DER or base64)."""
    upload = request.files.get("cms_file")
    if upload is not None and upload.filename:
        raw = upload.read()
        try:
            raw.decode("ascii")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
        return raw.decode("ascii")
    return request.form.get("cms", "")


@bp.post("/sign/eds")
@role_required("applicant")
def sign_eds() -> Any:
    """Hand a CMS signature of the document (from NCALayer, or pasted) to the runtime, which
    renders the document again in the posted language and verifies the signature over it."""
    waiting = pending()
    cms = "".join(posted_cms().split())
    try:
        base64.b64decode(cms, validate=True)
    except (binascii.Error, ValueError):
        flash(_("The signature is not base64 text as the signing tool gives it."), "error")
        return redirect(url_for("portal.sign"), 303)
    evidence = {
        "method": SigningMethod.EDS.value,
        "cms": cms,
        "language": request.form.get("language") or language(),
    }
    return finish(waiting, evidence)


def keep(kind: str, act: dict[str, Any], evidence: dict[str, Any], **where: Any) -> None:
    """Keep the signed document (its text, language, hash and data) and the verified evidence."""
    store = db()
    store.add(
        SignedDocument(
            kind=kind,
            signer_iin=evidence["signer_iin"],
            document={**evidence["document"], "data": act},
            evidence=evidence,
            signed_at=datetime.fromisoformat(evidence["signed_at"]),
            **where,
        )  # fmt: skip
    )
    store.commit()


def finish(waiting: dict[str, Any], evidence: dict[str, Any]) -> Any:
    """Start the signed application, or complete the signed consent, through the runtime.

    The runtime verifies the evidence; a refusal leaves the document waiting to be signed again.
    """
    if waiting["purpose"] == "consent":
        return finish_consent(waiting, evidence)
    return submit_application(waiting["data"], waiting, evidence)


def submit_application(
    data: dict[str, Any], waiting: dict[str, Any] | None, evidence: dict[str, Any] | None = None
) -> Any:
    """Start the application, with the signature evidence when the process asks for one."""
    submitted = data if waiting is None else {**data, waiting["field"]: evidence}
    try:
        instance = runtime().start(process_id(), submitted, current_user.username)
    except SigningError as error:
        return refused(error)
    except TirkeuError as error:
        session.pop(PENDING, None)
        flash(
            _("The application could not be submitted: %(reason)s", reason=error.message), "error"
        )
        return redirect(url_for("portal.apply"), 303)
    session.pop(PENDING, None)
    if waiting is not None:
        verified = instance.data[waiting["field"]]
        keep("application", data, verified, instance_id=instance.id)
    flash(
        _("Application %(number)s is signed and submitted.", number=instance.business_key),
        "success",
    )
    return redirect(url_for("portal.application", instance_id=instance.id), 303)


def finish_consent(waiting: dict[str, Any], evidence: dict[str, Any] | None) -> Any:
    """Complete the owner's consent task with the answer, signed when the process asks."""
    task_id = waiting["task_id"]
    task = owner_task(task_id)
    data = dict(waiting["answer"])
    if evidence is not None:
        data[waiting["field"]] = json.dumps(evidence, ensure_ascii=False)
    try:
        view = runtime().complete(task_id, data, current_user.username)
    except SigningError as error:
        return refused(error)
    except TirkeuError:
        session.pop(PENDING, None)
        flash(_("This consent request is closed; your answer was not needed."), "error")
        return redirect(url_for("portal.consent", task_id=task_id), 303)
    session.pop(PENDING, None)
    if evidence is not None:
        answer = owner_answers(runtime().instance(view.id))[task_id]
        keep("consent", waiting["answer"], answer["evidence"], instance_id=task.instance_id,
             task_id=task_id)  # fmt: skip
    flash(_("Your answer is signed and sent."), "success")
    return redirect(url_for("portal.consent", task_id=task_id), 303)


@bp.get("/applications/<int:instance_id>")
@role_required("applicant")
def application(instance_id: int) -> Any:
    """Show one application: status history, owners' answers, notices and the outcome."""
    iin = applicant_iin()
    row = db().get(Instance, instance_id)
    if row is None or (row.summary or {}).get("applicant_iin") != iin:
        abort(404)
    view = runtime().instance(instance_id)
    history = history_of(view.events)
    consents = list(owner_answers(view).values())
    return render_template(
        "portal/application.html",
        view=view,
        data=view.data,
        history=history,
        consents=consents,
        notices=notices_of(view.business_key, iin),
        signed=signed_evidence(view.data, iin),
    )


def signed_evidence(data: dict[str, Any], iin: str) -> dict[str, Any] | None:
    """Return the verified evidence of the application's signature by the applicant, with the
    document it covers, as the runtime kept it in the application's data."""
    for value in data.values():
        document = value.get("document") if isinstance(value, dict) else None
        if (
            isinstance(document, dict)
            and "signed_text" in document
            and value.get("signer_iin") == iin
        ):
            return {**value, "signed_at": datetime.fromisoformat(value["signed_at"])}
    return None


def owner_answers(view: InstanceView) -> dict[str, dict[str, Any]]:
    """Return each owner's consent request of the application with its answer, by task id.

    The answers are the runtime's: the task list's state of each request and the data its
    completion recorded (the answer and the verified signature evidence), whichever page, API
    call or command completed it.
    """
    # Columns, not ORM rows: a row this request loaded before the answer would be stale.
    tasks = db().execute(
        select(HumanTask.id, HumanTask.assignee, HumanTask.state, HumanTask.completed_at)
        .where(HumanTask.instance_id == view.id, HumanTask.role == "owner")
        .order_by(HumanTask.created_at)
    )
    recorded = {e.task_id: e.data or {} for e in view.events if e.kind == "task_completed"}
    answers = {}
    for task in tasks:
        data = recorded.get(task.id, {}) if task.state == "completed" else {}
        evidence = data.get("signature") if isinstance(data.get("signature"), dict) else None
        answers[task.id] = {
            "owner_iin": task.assignee,
            "state": task.state,
            "given": data.get("consent_given"),
            "method": evidence.get("method") if evidence else None,
            "evidence": evidence,
            "at": task.completed_at,
        }
    return answers


@bp.get("/outbox")
@role_required("applicant")
def outbox_page() -> Any:
    """Show the text messages sent to the signed-in person's phone (the sandbox gateway)."""
    iin = applicant_iin()
    phone = phone_of(iin)
    messages = outbox(db(), phone) if phone else []
    return render_template(
        "portal/outbox.html", phone=phone, messages=messages, notices=sms_notices_of(iin)
    )


@bp.get("/consents")
@role_required("applicant")
def consents() -> Any:
    """List the consent requests assigned to the signed-in owner, open ones first."""
    iin = applicant_iin()
    rows = list(
        db().scalars(
            select(HumanTask)
            .where(HumanTask.assignee == iin, HumanTask.role == "owner")
            .order_by(HumanTask.created_at.desc())
        )
    )
    rows.sort(key=lambda t: t.state not in ("ready", "claimed"))
    return render_template("portal/consents.html", tasks=rows)


def owner_task(task_id: str) -> HumanTask:
    """Return the consent task, refusing anyone but the owner it is assigned to."""
    task = db().get(HumanTask, task_id)
    if task is None or task.role != "owner" or task.assignee != applicant_iin():
        abort(404)
    return task


@bp.route("/consents/<task_id>", methods=["GET", "POST"])
@role_required("applicant")
def consent(task_id: str) -> Any:
    """Show a consent request; an answer goes to signing."""
    task = owner_task(task_id)
    data = runtime().task_data(task_id)
    is_open = task.state in ("ready", "claimed")
    if request.method == "POST":
        answer = request.form.get("answer")
        if not is_open:
            return redirect(url_for("portal.consent", task_id=task_id), 303)
        if answer not in ("approve", "refuse"):
            flash(_("Choose to approve or to refuse."), "error")
            return redirect(url_for("portal.consent", task_id=task_id), 303)
        reply = {"consent_given": answer == "approve"}
        waiting = {"purpose": "consent", "task_id": task_id, "answer": reply}
        signing = runtime().task_signing(task_id, reply)
        if signing is None:
            return finish_consent(waiting, None)
        return to_signing(waiting, signing)
    answer = owner_answers(runtime().instance(task.instance_id))[task_id]
    request_text = runtime().documents.request_text(
        task.business_key, task.assignee, data, language()
    )
    return render_template(
        "portal/consent.html", task=task, request_text=request_text, is_open=is_open, answer=answer
    )


def init_app(app: Flask) -> None:
    """Install the SMS gateway, the notices source and the trusted CAs of the online channel."""
    app.extensions.setdefault("tirkeu_sms", SandboxSmsGateway(app.extensions["tirkeu_sessions"]))
    settings = app.config.get("SETTINGS")
    if settings is not None:
        if (
            "tirkeu_notices" not in app.extensions
            and settings.registry.get("registry_mode", "sandbox") == "sandbox"
        ):
            from service_tasks.operators import sandbox_store

            app.extensions["tirkeu_notices"] = sandbox_store(settings.registry)
        app.config.setdefault(
            "TRUSTED_CA_PATHS", [str(settings.instance_path / "pki" / "ca.cert.pem")]
        )
    app.register_blueprint(bp)
