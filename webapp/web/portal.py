"""The applicant's personal account: order the service, sign, follow applications, consent."""

import base64
import binascii
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from service_tasks.identifiers import arc_problem, iin_problem
from webapp.db.base import utcnow
from webapp.db.models import HumanTask, Instance
from webapp.db.online import SignedDocument
from webapp.online.documents import (
    address_text,
    application_document,
    consent_document,
    consent_form_data,
    readable,
)
from webapp.online.pki import trusted_ca_pems
from webapp.online.policy import channel_decision
from webapp.online.sms import SandboxSmsGateway, outbox
from webapp.runtime.errors import TirkeuError
from webapp.signing import (
    SignatureEvidence,
    SigningError,
    canonical_bytes,
    request_code,
    verify_code,
    verify_eds,
)

from .auth import role_required
from .database import db, runtime
from .labels import refusal_label

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


PERIOD = re.compile(r"^[0-9]{1,2}$")


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


def local_today() -> str:
    """Return today's date where the service is given, as YYYY-MM-DD."""
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Almaty"))
    return datetime.now(zone).date().isoformat()


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


@bp.route("/apply", methods=["GET", "POST"])
@role_required("applicant")
def apply() -> Any:
    """Show the application form; a correct one goes to review and signing."""
    iin = applicant_iin()
    if request.method == "GET":
        values = {"registration_type": "permanent", "for_whom": "self", "ownership": "owner"}
        return render_template("portal/apply.html", values=values, errors={})
    values, errors = checked_application(request.form, iin)
    if errors:
        return render_template("portal/apply.html", values=values, errors=errors), 422
    document = application_document(values, iin, local_today())
    decision = channel_decision(
        db(), process_id(), "online", document["applicant_type"], runtime().script_engine
    )
    if not decision.accepted:
        reason = refusal_label(decision.refusal_reason or "no_authority")
        return render_template("portal/centre_only.html", reason=reason), 409
    session[PENDING] = {"purpose": "application", "document": document}
    return redirect(url_for("portal.sign"), 303)


def pending() -> dict[str, Any]:
    """Return the document waiting for the signed-in user's signature, or go back home."""
    waiting = session.get(PENDING)
    if not waiting:
        abort(404)
    return waiting


@bp.get("/sign")
@role_required("applicant")
def sign() -> Any:
    """Show exactly the document to sign and the two ways to sign it."""
    waiting = pending()
    iin = applicant_iin()
    return render_template(
        "portal/sign.html",
        waiting=waiting,
        document=waiting["document"],
        text=readable(waiting["document"]),
        phone=phone_of(iin),
        challenge=waiting.get("challenge"),
    )


@bp.get("/sign/document.json")
@role_required("applicant")
def document_file() -> Response:
    """Return the document's canonical bytes, to sign them with an EDS."""
    return Response(
        canonical_bytes(pending()["document"]),
        mimetype="application/json",
        headers={"Content-Disposition": "attachment; filename=document.json"},
    )


def refused(error: SigningError) -> Any:
    """Show the signing page again with the reason of the refusal."""
    flash(error.message, "error")
    return redirect(url_for("portal.sign"), 303)


@bp.post("/sign/code")
@role_required("applicant")
def send_code() -> Any:
    """Send a one-time code for the document to the signer's phone."""
    waiting = pending()
    iin = applicant_iin()
    try:
        challenge = request_code(
            db(), signer_iin=iin, document=waiting["document"], phone=phone_of(iin),
            send=sms_gateway().send, now=utcnow(), settings=current_app.config.get("SIGNING"),
        )  # fmt: skip
    except SigningError as error:
        return refused(error)
    waiting["challenge"] = {"id": challenge.challenge_id, "phone": challenge.phone}
    session[PENDING] = waiting
    flash(_("A code was sent to %(phone)s.", phone=challenge.phone), "info")
    return redirect(url_for("portal.sign"), 303)


@bp.post("/sign/verify")
@role_required("applicant")
def verify() -> Any:
    """Accept the one-time code as the signature and finish."""
    waiting = pending()
    challenge = waiting.get("challenge") or {}
    try:
        evidence = verify_code(
            db(), challenge_id=challenge.get("id", ""), signer_iin=applicant_iin(),
            document=waiting["document"], code=request.form.get("code", ""), now=utcnow(),
            settings=current_app.config.get("SIGNING"),
        )  # fmt: skip
    except SigningError as error:
        return refused(error)
    return finish(waiting, evidence)


def posted_text(field: str) -> bytes:
    """Return an uploaded file's bytes, or else the pasted text of the same field."""
    upload = request.files.get(field + "_file")
    if upload is not None and upload.filename:
        return upload.read()
    return request.form.get(field, "").strip().encode()


def trusted_cas() -> list[bytes]:
    """Return the certification authorities whose certificates the portal accepts."""
    return trusted_ca_pems(current_app.config.get("TRUSTED_CA_PATHS", ()))


@bp.post("/sign/eds")
@role_required("applicant")
def sign_eds() -> Any:
    """Verify a detached EDS signature over the document and finish."""
    waiting = pending()
    try:
        signature = base64.b64decode(posted_text("signature"), validate=True)
    except (binascii.Error, ValueError):
        flash(_("The signature is not base64 text as the signing tool prints it."), "error")
        return redirect(url_for("portal.sign"), 303)
    try:
        evidence = verify_eds(
            document=waiting["document"], signature=signature,
            certificate_pem=posted_text("certificate"), signer_iin=applicant_iin(),
            trusted_ca_pems=trusted_cas(), now=utcnow(),
        )  # fmt: skip
    except SigningError as error:
        return refused(error)
    return finish(waiting, evidence)


def keep(kind: str, document: dict, evidence: SignatureEvidence, **where: Any) -> None:
    """Keep the signed document and its evidence."""
    store = db()
    store.add(
        SignedDocument(
            kind=kind,
            signer_iin=evidence.signer_iin,
            document=document,
            evidence=evidence.to_dict(),
            signed_at=evidence.signed_at,
            **where,
        )  # fmt: skip
    )
    store.commit()


def finish(waiting: dict[str, Any], evidence: SignatureEvidence) -> Any:
    """Start the signed application, or complete the signed consent, through the runtime."""
    session.pop(PENDING, None)
    document = waiting["document"]
    if waiting["purpose"] == "consent":
        return finish_consent(waiting["task_id"], document, evidence)
    data = {**document, "application_signature": evidence.to_dict()}
    try:
        instance = runtime().start(process_id(), data, current_user.username)
    except TirkeuError as error:
        flash(
            _("The application could not be submitted: %(reason)s", reason=error.message), "error"
        )
        return redirect(url_for("portal.apply"), 303)
    keep("application", document, evidence, instance_id=instance.id)
    flash(
        _("Application %(number)s is signed and submitted.", number=instance.business_key),
        "success",
    )
    return redirect(url_for("portal.application", instance_id=instance.id), 303)


def finish_consent(task_id: str, document: dict, evidence: SignatureEvidence) -> Any:
    """Complete the owner's consent task with the signed answer."""
    task = owner_task(task_id)
    try:
        runtime().complete(task_id, consent_form_data(document, evidence), current_user.username)
    except TirkeuError:
        flash(_("This consent request is closed; your answer was not needed."), "error")
        return redirect(url_for("portal.consent", task_id=task_id), 303)
    keep("consent", document, evidence, instance_id=task.instance_id, task_id=task_id)
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
    history = [e for e in view.events if shown_in_history(e)]
    consents = owner_answers(instance_id)
    return render_template(
        "portal/application.html",
        view=view,
        data=view.data,
        history=history,
        consents=consents,
        notices=notices_of(view.business_key, iin),
    )


def owner_answers(instance_id: int) -> list[dict[str, Any]]:
    """Return each owner's consent request of the application with its answer, if any."""
    tasks = db().scalars(
        select(HumanTask)
        .where(HumanTask.instance_id == instance_id, HumanTask.role == "owner")
        .order_by(HumanTask.created_at)
    )
    signed = {
        row.task_id: row
        for row in db().scalars(
            select(SignedDocument).where(
                SignedDocument.instance_id == instance_id, SignedDocument.kind == "consent"
            )
        )
    }
    answers = []
    for task in tasks:
        answer = signed.get(task.id)
        answers.append(
            {
                "owner_iin": task.assignee,
                "state": task.state,
                "given": answer.document.get("consent_given") if answer else None,
                "method": answer.evidence.get("method") if answer else None,
                "at": task.completed_at,
            }
        )
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
        document = consent_document(data, applicant_iin(), answer == "approve")
        session[PENDING] = {"purpose": "consent", "document": document, "task_id": task_id}
        return redirect(url_for("portal.sign"), 303)
    answer = db().scalar(select(SignedDocument).where(SignedDocument.task_id == task_id))
    return render_template(
        "portal/consent.html",
        task=task,
        data=data,
        address=address_text(data.get("premises") or {}),
        is_open=is_open,
        answer=answer,
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
