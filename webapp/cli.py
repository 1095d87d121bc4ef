"""The `tirkeu` command: the product's contract for scripts and tests (see docs/cli.md).

Importing this module stays cheap, so that `tirkeu --help` and every command start at once:
each command imports the parts of the product it needs when it runs.
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import signal
import socket
import sys
from datetime import datetime, timedelta
from functools import update_wrapper
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import logmask

if TYPE_CHECKING:
    from .bootstrap import Product
    from .runtime.deployments import DeploymentView
    from .runtime.errors import Problem, TirkeuError
    from .runtime.views import InstanceView


class CommandError(click.ClickException):
    """A refused command: its message on standard error (or JSON with --json).

    An error naming the fields it refused is a bad argument, exit 2 as click's are; any other
    refusal exits 1.
    """

    def __init__(self, error: TirkeuError, as_json: bool):
        from .runtime.errors import field_errors

        super().__init__(error.message)
        self.error = error
        self.as_json = as_json
        self.exit_code = 2 if field_errors(error) is not None else 1

    def show(self, file=None) -> None:
        """Print the refusal: its message and refused fields, or one JSON document."""
        from .runtime.errors import InvalidDiagram, field_errors

        error = self.error
        if self.as_json:
            document = {"error": error.code, "message": error.message}
            if field_errors(error) is not None:
                document["errors"] = field_errors(error)
            if isinstance(error, InvalidDiagram):
                document["problems"] = [str(p) for p in error.problems]
            click.echo(json.dumps(document, ensure_ascii=False), err=True)
            return
        if isinstance(error, InvalidDiagram):
            for problem in error.problems:
                click.echo(str(problem), err=True)
            return
        click.echo(f"Error: {error.message}", err=True)
        for field, reason in (field_errors(error) or {}).items():
            click.echo(f"  {field}: {reason}", err=True)


def emit(document, as_json: bool, text: str | None = None) -> None:
    """Print one JSON document with --json, or readable text without it."""
    if as_json or text is None:
        click.echo(json.dumps(document, ensure_ascii=False, indent=None if as_json else 2))
    else:
        click.echo(text)


def json_option(name: str, help_text: str):
    """A JSON object option, refused with the option's name when it is not one."""

    def parse(_ctx, param, value):
        from .runtime import inputs

        if value is None:
            return {}
        try:
            document = inputs.loads(value)
        except ValueError as error:
            raise click.BadParameter(f"not valid JSON: {error}", param=param) from error
        if not isinstance(document, dict):
            raise click.BadParameter("must be a JSON object", param=param)
        return document

    return click.option(name, callback=parse, help=help_text)


def with_product(command):
    """Build the product for a command and turn the runtime's errors into clean exits."""

    @click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
    @click.pass_context
    def wrapper(ctx, *args, as_json: bool, **kwargs):
        from .bootstrap import Product, build
        from .runtime.errors import TirkeuError

        built = not isinstance(ctx.obj, Product)
        product = build() if built else ctx.obj
        ctx.obj = product
        try:
            return command(product, *args, as_json=as_json, **kwargs)
        except TirkeuError as error:
            raise CommandError(error, as_json) from error
        finally:
            # A command run in-process (a test's runner) must not leave pooled connections.
            if built:
                product.engine.dispose()

    return update_wrapper(wrapper, command)


class LazyGroup(click.Group):
    """A command group whose commands defined in other modules load only when they run.

    Each is named with its module, attribute and one-line help, which `--help` shows without
    importing the module (a test checks the line against the command's own).
    """

    def __init__(self, *args, lazy: dict[str, tuple[str, str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the names of the commands defined here and of those loaded on demand."""
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        """Return a command, importing its module if it is one loaded on demand."""
        if name in self.lazy and name not in self.commands:
            module, attribute, _help = self.lazy[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands with their one-line help, loading none of the lazy ones."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy and name not in self.commands:
                rows.append((name, self.lazy[name][2]))
            elif not (command := super().get_command(ctx, name)).hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy={
        "users": (
            "webapp.accounts.cli",
            "users",
            "Manage users, their roles, passwords and API tokens.",
        ),
        "instances": (
            "webapp.cockpit.cli",
            "instances",
            "Repair instances as the administrators' cockpit does: variables, tokens, batches.",
        ),
    },
)
def main() -> None:
    """Tirkeu: registration at the place of residence, run as BPMN on SpiffWorkflow."""
    logmask.install()


# The demo's people: (user name, roles, IIN, full name, service centre). The two clerks work
# at different centres, so the demo's month spreads its counter applications over both.
DEMO_USERS = (
    ("clerk", ("clerk",), None, "Aizhan Clerk", "AST-YESIL"),
    ("clerk_almaty", ("clerk",), None, "Saule Clerk", "ALM-BOSTANDYK"),
    ("supervisor", ("supervisor",), None, "Marat Supervisor", None),
    ("owner", ("process_owner",), None, "Dana Process-Owner", None),
    ("analyst", ("analyst",), None, "Timur Analyst", None),
    ("admin", ("administrator",), None, "Aigul Administrator", None),
    ("applicant", ("applicant",), "850314304175", "Yerlan Akhmetov", None),
    ("gulnara", ("applicant",), "621102401239", "Gulnara Zhumabayeva", None),
    ("kairat", ("applicant",), "600520302564", "Kairat Zhumabayev", None),
)


# The demo people who sign with an EDS: (IIN, name on the certificate).
DEMO_SIGNERS = tuple((iin, name) for _user, _roles, iin, name, _centre in DEMO_USERS if iin)


def create_demo_users(product: Product) -> dict[str, str]:
    """Create the demo users that do not exist yet; return their new passwords."""
    from .accounts import create_user, find_user

    passwords = {}
    with product.session_factory() as session, session.begin():
        for username, roles, iin, full_name, centre in DEMO_USERS:
            if find_user(session, username) is None:
                passwords[username] = secrets.token_urlsafe(12)
                create_user(session, username, passwords[username], roles, iin, full_name, centre)
    return passwords


@main.command()
@click.option(
    "--demo", is_flag=True, help="Also create one demo user per role and a month of history."
)
@click.option(
    "--history",
    "applications",
    default=None,
    type=click.IntRange(0, 100_000),
    help="With --demo: how many applications the month of history has (0: none).",
)
@with_product
def init(product: Product, demo: bool, applications: int | None, as_json: bool) -> None:
    """Create or upgrade the schema, deploy processes/ and load the default sandbox data.

    With --demo, also the demo users (their passwords are printed once), the demo keys, and a
    month of history run through the runtime on a simulated clock, unless there is history.
    """
    from service_tasks.dataset import DEFAULT_DATASET_PATH
    from service_tasks.operators import sandbox_store

    from .booking import save_centres
    from .bootstrap import bundles, initialise, read_bundle
    from .centres import CENTRES_PATH
    from .online.pki import demo_pki

    initialise(product)
    store = sandbox_store(product.settings.registry)
    if store.is_empty():
        store.load_dataset_file(DEFAULT_DATASET_PATH)
    deployed = []
    for bundle in bundles([product.settings.processes_path]):
        deployed += product.runtime.deploy(read_bundle(bundle), deployed_by="tirkeu init")
    with product.session_factory() as session:
        save_centres(session, json.loads(CENTRES_PATH.read_text(encoding="utf-8")))
    passwords = create_demo_users(product) if demo else {}
    keys = demo_pki(product.settings.instance_path, DEMO_SIGNERS) if demo else {}
    history = demo_history(product, applications) if demo else None
    lines = [f"{d.process_id} v{d.version}{' (new)' if d.created else ''}" for d in deployed]
    lines += [f"demo user {name}: password {password}" for name, password in passwords.items()]
    lines += [f"demo {who} key {key} certificate {cert}" for who, (key, cert) in keys.items()]
    if history is not None:
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(history.statuses.items()))
        lines.append(f"demo history: {history.applications} applications ({statuses})")
    emit(
        {
            "deployed": [d.to_dict() for d in deployed],
            "demo_users": passwords,
            "demo_keys": {
                who: {"key": str(k), "certificate": str(c)} for who, (k, c) in keys.items()
            },
            "demo_history": history.to_dict() if history is not None else None,
        },
        as_json,
        "\n".join(lines) or "up to date",
    )


def demo_history(product: Product, applications: int | None):
    """Seed the demo's month of history, with progress on a terminal; None if there is some."""
    from .demo.history import DEFAULT_APPLICATIONS, NoHistory, seed_history

    count = DEFAULT_APPLICATIONS if applications is None else applications
    if not count:
        return None
    show = sys.stderr.isatty()

    def progress(done: int) -> None:
        if show:
            click.echo(f"\rdemo history: {done} steps", err=True, nl=False)

    try:
        seeded = seed_history(product, count, progress=progress)
    except NoHistory as reason:
        click.echo(f"no demo history: {reason}", err=True)
        return None
    if show:
        click.echo(err=True)
    return seeded


def located(bundle: dict[str, Path], problems: list[Problem]) -> list[Problem]:
    """Name each problem's file by the path it was read from."""
    from dataclasses import replace

    return [replace(p, file=str(bundle.get(p.file, p.file))) for p in problems]


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@with_product
def validate(product: Product, paths: tuple[Path, ...], as_json: bool) -> None:
    """Check diagrams, decision tables, forms and translations; print `file:line: message` per
    problem. Translations the process no longer uses are listed but leave the files valid."""
    from .bootstrap import bundles, read_bundle

    found = []
    for bundle in bundles(list(paths)):
        found += located(bundle, product.runtime.validate(read_bundle(bundle)))
    problems = [str(p) for p in found]
    valid = not any(p.stops_effect for p in found)
    emit({"valid": valid, "problems": problems}, as_json, "\n".join(problems) or "valid")
    if not valid:
        sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@with_product
def deploy(product: Product, paths: tuple[Path, ...], as_json: bool) -> None:
    """Deploy files or folders as new process versions, in effect at once; nothing is deployed
    if any is invalid.

    This is the server operator's deployment, with the database's own access: no second
    person approves it (a deployment proposed in the browser waits for one; see `tirkeu
    deployments`). Deploying content that waits for approval approves it.
    """
    from .bootstrap import bundles, read_bundle
    from .runtime.errors import InvalidDiagram

    found = bundles(list(paths))
    contents = [read_bundle(bundle) for bundle in found]
    for bundle, content in zip(found, contents, strict=True):
        problems = [p for p in product.runtime.validate(content) if p.stops_effect]
        if problems:
            raise InvalidDiagram(located(bundle, problems))
    runtime = product.runtime
    deployed = [d for content in contents for d in runtime.deploy(content, "tirkeu deploy")]
    emit(
        [{"process_id": d.process_id, "version": d.version} for d in deployed],
        as_json,
        "\n".join(f"{d.process_id} v{d.version}" for d in deployed),
    )


@main.group()
def deployments() -> None:
    """Deployments proposed in the browser: list them, approve or reject them as the operator."""


def deployment_document(deployment: DeploymentView) -> dict:
    """Return a deployment as JSON."""
    from dataclasses import asdict

    document = asdict(deployment)
    document["versions"] = [{"process_id": p, "version": v} for p, v in deployment.versions]
    for key in ("created_at", "decided_at"):
        document[key] = document[key].isoformat() if document[key] else None
    return document


def deployment_line(deployment: DeploymentView) -> str:
    """Return a deployment as one line of text."""
    versions = ", ".join(f"{p} v{v}" for p, v in deployment.versions)
    decided = f" by {deployment.decided_by}" if deployment.decided_by else ""
    author = deployment.deployed_by or "?"
    return f"{deployment.id} {deployment.status}{decided}: {versions} (from {author})"


@deployments.command("list")
@click.option("--status", help="Only deployments in this status: pending, approved or rejected.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@with_product
def deployments_list(product: Product, status: str | None, limit: int, as_json: bool) -> None:
    """List the newest deployments with their versions and who decided on them."""
    from .runtime.deployments import STATUSES

    if status is not None and status not in STATUSES:
        raise click.BadParameter(f"not one of {', '.join(STATUSES)}", param_hint="'--status'")
    found = product.runtime.deployments(status, limit)
    emit(
        [deployment_document(d) for d in found],
        as_json,
        "\n".join(deployment_line(d) for d in found) or "no deployments",
    )


@deployments.command("approve")
@click.argument("deployment_id", type=int)
@click.option("--by", "actor", required=True, help="Who approves: recorded with the decision.")
@with_product
def deployments_approve(product: Product, deployment_id: int, actor: str, as_json: bool) -> None:
    """Put a pending deployment in effect; its author cannot."""
    decided = product.runtime.approve(deployment_id, actor)
    emit(deployment_document(decided), as_json, deployment_line(decided))


@deployments.command("reject")
@click.argument("deployment_id", type=int)
@click.option("--by", "actor", required=True, help="Who rejects: recorded with the decision.")
@with_product
def deployments_reject(product: Product, deployment_id: int, actor: str, as_json: bool) -> None:
    """Refuse a pending deployment: its versions never start an instance."""
    decided = product.runtime.reject(deployment_id, actor)
    emit(deployment_document(decided), as_json, deployment_line(decided))


INSTANCE_HELP = "An instance: its id (42) or its application number (A-000042)."


def instance_id(product: Product, reference: str) -> int:
    """Return the id of the instance a reference names: an id, or an application number."""
    from .runtime.lookup import find_instance

    with product.session_factory() as session:
        return find_instance(session, reference)


SHOWN_VALUE = 100  # characters of a data value the summary shows; --json shows all


def shortened(value) -> str:
    """Return a data value as JSON text, cut to one readable line."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 1] + "…"


def instance_summary(view: InstanceView) -> str:
    """Return an instance as text for people: status, open tasks, incidents, data, events."""
    title = " - ".join(
        part
        for part in (
            view.business_key,
            f"instance {view.id}",
            f"{view.process_id} v{view.version}",
            view.status,
        )  # fmt: skip
        if part
    )
    lines = [title, "", "open tasks:"]
    lines += [f"  {task_line(t)}" for t in view.ready_tasks] or ["  none"]
    lines += ["", "incidents:"]
    lines += [
        f"  #{i.id} {i.status}  {i.bpmn_id}  {i.attempts} attempt(s): {i.message}"
        for i in view.incidents
    ] or ["  none"]
    lines += ["", "data:"]
    lines += [f"  {key}: {shortened(value)}" for key, value in view.data.items()] or ["  none"]
    lines += ["", f"events ({len(view.events)}):"]
    for event in view.events:
        element = event.name or event.bpmn_id or ""
        if event.bpmn_id and event.name and event.name != event.bpmn_id:
            element = f"{event.name} ({event.bpmn_id})"
        actor = f"  by {event.actor}" if event.actor else ""
        lines.append(f"  {event.at:%Y-%m-%d %H:%M:%S}  {event.kind:<20} {element}{actor}".rstrip())
    return "\n".join(lines)


def show_instance(product: Product, instance_id: int, as_json: bool) -> None:
    """Print an instance as the contract describes it, or as a readable summary."""
    view = product.runtime.instance(instance_id)
    emit(view.to_dict(), as_json, instance_summary(view))


@main.command()
@click.argument("process_id")
@json_option("--data", "Start data, a JSON object.")
@with_product
def start(product: Product, process_id: str, data: dict, as_json: bool) -> None:
    """Start an instance and run it until it waits."""
    view = product.runtime.start(process_id, data)
    show_instance(product, view.id, as_json)


@main.command()
@click.option("--instance", "reference", help=f"Only this instance's tasks. {INSTANCE_HELP}")
@with_product
def tasks(product: Product, reference: str | None, as_json: bool) -> None:
    """List the open user tasks: ready, or claimed by someone.

    With --json, each task is `{id, instance_id, bpmn_id, name, lane}` followed by `role`,
    `assignee`, `claimed_by`, `state`, `due_at` and `created_at` (ISO times, UTC).
    """
    wanted = instance_id(product, reference) if reference is not None else None
    views = product.runtime.ready_tasks(wanted)
    emit(
        [task_document(t) for t in views],
        as_json,
        "\n".join(task_line(t) for t in views) or "no ready tasks",
    )


def task_document(task) -> dict:
    """Return a task as the contract's JSON, the contract's keys first."""
    return {
        "id": task.id,
        "instance_id": task.instance_id,
        "bpmn_id": task.bpmn_id,
        "name": task.name,
        "lane": task.lane,
        "role": task.role,
        "assignee": task.assignee,
        "claimed_by": task.claimed_by,
        "state": task.state,
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "created_at": task.created_at.isoformat() if task.created_at else None,
    }


def task_line(task) -> str:
    """Return a task as one line: id, instance, lane, name, who holds it and when it is due."""
    holder = f"  claimed by {task.claimed_by}" if task.claimed_by else ""
    due = f"  due {task.due_at:%Y-%m-%d %H:%M} UTC" if task.due_at else ""
    number = task.business_key or f"#{task.instance_id}"
    return f"{task.id}  {number}  {task.lane or '-'}  {task.name}{holder}{due}"


@main.command()
@click.argument("task_id")
@json_option("--data", "Form data, a JSON object.")
@with_product
def complete(product: Product, task_id: str, data: dict, as_json: bool) -> None:
    """Complete a ready user task with its form data."""
    view = product.runtime.complete(task_id, data)
    show_instance(product, view.id, as_json)


@main.command()
@click.argument("name")
@json_option("--payload", "The message's payload, a JSON object.")
@json_option("--correlation", 'Correlation values, e.g. {"application_number": "A-0100"}.')
@with_product
def message(product: Product, name: str, payload: dict, correlation: dict, as_json: bool) -> None:
    """Deliver a message to the waiting instance that matches its correlation."""
    view = product.runtime.message(name, payload, correlation)
    show_instance(product, view.id, as_json)


@main.command()
@click.argument("reference", metavar="INSTANCE")
@with_product
def show(product: Product, reference: str, as_json: bool) -> None:
    """Show an instance (its id or application number): status, data, tasks, incidents and
    events; with --json, the document docs/cli.md describes."""
    show_instance(product, instance_id(product, reference), as_json)


def parse_now(_ctx, param, value: str | None) -> datetime | None:
    """Parse --now as an ISO timestamp with a zone (UTC when none is given)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter("not an ISO 8601 date and time", param=param) from error
    return moment if moment.tzinfo else moment.astimezone()


@main.command()
@click.option("--once", is_flag=True, help="Fire what is due now, then exit.")
@click.option("--now", callback=parse_now, help="Pretend the clock says this ISO time.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between sweeps.")
@click.option("--batch", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="Jobs taken per sweep.")  # fmt: skip
@click.option("--lease", default=300, show_default=True, type=click.IntRange(5),
              help="Seconds before jobs taken by a worker that died go to another.")  # fmt: skip
@with_product
def worker(
    product: Product,
    once: bool,
    now: datetime | None,
    interval: float,
    batch: int,
    lease: int,
    as_json: bool,
) -> None:
    """Fire due timers and service-task retries, once or in a loop until SIGTERM or Ctrl-C."""
    from .garbage import collect_seldom
    from .worker import JobWorker

    if once:
        fired = product.runtime.run_due_jobs(now=now)
        emit({"fired": fired}, as_json, f"fired {fired} job(s)")
        return
    name = f"{socket.gethostname()}:{os.getpid()}"
    sweeper = JobWorker(product.runtime, interval, name, batch, timedelta(seconds=lease), now)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: sweeper.stop())
    click.echo(f"worker {name}: sweeping every {interval}s", err=True)
    collect_seldom()
    sweeper.run()


@main.command()
@click.option(
    "--format",
    "log_format",
    type=click.Choice(["xes", "csv"]),
    default="xes",
    show_default=True,
    help="XES (IEEE 1849) or CSV (case_id, activity, timestamp, lifecycle, resource).",
)
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), help="A file, not stdout."
)
@click.option("--process", "process_id", help="Only this process's instances.")
@click.option("--version", type=int, help="Only this version of the process.")
@click.option("--since", callback=parse_now, help="Only instances started at or after this.")
@click.option("--until", callback=parse_now, help="Only instances started before this.")
@with_product
def export(
    product: Product,
    log_format: str,
    output: Path | None,
    process_id: str | None,
    version: int | None,
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
) -> None:
    """Export the event log for process mining, streamed, one trace per instance.

    The log is for analysts, so it holds what they may see: people by pseudonym only.
    """
    from .analytics.export import export_csv, export_xes
    from .analytics.instances import InstanceFilter
    from .privacy import Privacy

    filters = InstanceFilter(
        process_id=process_id, version=version, created_from=since, created_until=until
    )
    exporter = export_xes if log_format == "xes" else export_csv
    show_progress = output is not None and sys.stderr.isatty()
    counted = {"cases": 0, "events": 0}

    def progress(cases: int, events: int) -> None:
        counted.update(cases=cases, events=events)
        if show_progress:
            click.echo(f"\r{cases} instances, {events} events", err=True, nl=False)

    privacy = Privacy.from_secret(product.settings.pseudonym_key, product.settings.secret_key)
    chunks = exporter(
        product.session_factory, filters, progress=progress, view=privacy.view(["analyst"])
    )
    if output is None:
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    with output.open("w", encoding="utf-8") as file:
        for chunk in chunks:
            file.write(chunk)
    if show_progress:
        click.echo(err=True)
    emit(
        {"output": str(output), "format": log_format, **counted},
        as_json,
        f"wrote {counted['cases']} instances, {counted['events']} events to {output}",
    )


@main.group()
def registries() -> None:
    """The sandbox registries that stand in for the national ones."""


@registries.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_product
def registries_load(product: Product, file: Path, as_json: bool) -> None:
    """Replace the sandbox registries' data with a data set file (docs/registries.md).

    The sandbox registries keep their own database, `TIRKEU_REGISTRY_URL`: by default
    `registries.db` in the instance folder, whatever `TIRKEU_DATABASE_URL` says. The text
    answer names it.
    """
    from sqlalchemy.engine import make_url

    from service_tasks.dataset import DatasetError
    from service_tasks.operators import sandbox_store

    url = str(product.settings.registry.get("registry_url") or "")
    try:
        counts = sandbox_store(product.settings.registry).load_dataset_file(file)
    except DatasetError as error:
        raise click.ClickException(str(error)) from error
    shown = make_url(url).render_as_string(hide_password=True)
    emit(
        counts,
        as_json,
        f"loaded {counts['persons']} persons and {counts['premises']} premises into {shown}",
    )


@main.command("sign")
@click.argument(
    "document", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--cert", "cert_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--start", "process_id", help="Sign the start of this process with --data.")
@click.option("--task", "task_id", help="Sign the completion of this task with --data.")
@json_option("--data", "The act's data, a JSON object (with --start or --task).")
@click.option("--language", default="en", show_default=True, help="en, kk or ru.")
def sign_command(
    document: Path | None, key_path: str, cert_path: str, process_id: str | None,
    task_id: str | None, data: dict, language: str,
) -> None:  # fmt: skip
    """Sign with a PEM key and its certificate, as CMS.

    With DOCUMENT (a file downloaded from the sign page), print the CMS of its exact bytes in
    base64. With --start or --task, build the act's document as the runtime will check it and
    print the data with the EDS evidence in the act's signature field, ready for `tirkeu start`
    or `tirkeu complete`.
    """
    from .signing import SigningError, sign_with_files

    try:
        if document is not None:
            click.echo(sign_with_files(document.read_bytes(), key_path, cert_path))
            return
        if bool(process_id) == bool(task_id):
            raise click.UsageError("Give a DOCUMENT file, or one of --start and --task.")
        click.echo(json.dumps(_signed_act(process_id, task_id, data, language, key_path,
                                          cert_path), ensure_ascii=False))  # fmt: skip
    except (SigningError, ValueError) as error:
        raise click.ClickException(getattr(error, "message", str(error))) from error


def _signed_act(process_id: str | None, task_id: str | None, data: dict, language: str,
                key_path: str, cert_path: str) -> dict:  # fmt: skip
    """Return the act's data with the EDS evidence of its document, built by the runtime."""
    from .bootstrap import build
    from .runtime.errors import TirkeuError
    from .signing import sign_with_files

    product = build()
    try:
        runtime = product.runtime
        if process_id:
            signing = runtime.start_signing(process_id, data, language)
        else:
            signing = runtime.task_signing(task_id, data, language)
    except TirkeuError as error:
        raise click.ClickException(error.message) from error
    finally:
        product.engine.dispose()
    if signing is None:
        raise click.ClickException("This act needs no signature with this data.")
    evidence = {
        "method": "eds",
        "language": signing.rendered.language,
        "cms": sign_with_files(signing.rendered.content, key_path, cert_path),
    }
    # A task's form carries the evidence as JSON text, as the portal sends it.
    return {**data, signing.field: evidence if process_id else json.dumps(evidence)}


@main.command("archive")
@click.option(
    "--older-than", "days", type=click.IntRange(0), help="Age in days (default: the setting)."
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="A .jsonl.gz file.")
@with_product
def archive_command(product: Product, days: int | None, output: Path | None, as_json: bool):
    """Move ended instances older than DAYS to a gzip JSON-lines file and remove them."""
    from .archive import archive, count_archivable, default_path
    from .db.base import utcnow

    now = utcnow()
    age = timedelta(days=product.settings.retention_days if days is None else days)
    output = output or default_path(product.settings.instance_path / "archives", now)
    total = count_archivable(product.session_factory, now - age)
    with click.progressbar(length=total, label="archiving", file=sys.stderr) as bar:
        result = archive(product.session_factory, age, output, progress=bar.update, now=now)
    emit(
        {"file": str(result.path), "instances": result.instances, "events": result.events},
        as_json,
        f"archived {result.instances} instance(s), {result.events} event(s) to {result.path}",
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Per web process; beyond a few, more threads only wait for the interpreter lock.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Web processes; above 1, gunicorn serves and `tirkeu worker` must run beside.",
)
@with_product
def serve(
    product: Product, host: str, port: int, threads: int, workers: int, as_json: bool
) -> None:
    """Serve the web application: granian with an in-process worker, or gunicorn processes.

    The log (one access line per request, errors with their request id) goes to standard error.
    """
    from .web import create_app
    from .web.serve import configure_logging

    configure_logging()

    click.echo(f"Tirkeu on http://{host}:{port}", err=True)
    if workers > 1:
        from .web.gunicorn_app import serve_processes

        product.engine.dispose()
        settings = product.settings
        serve_processes(lambda: create_app(settings), host, port, workers, threads)
        return
    from .web.serve import serve as run_server

    run_server(product.settings, product.runtime, host=host, port=port, threads=threads)


@main.command("test-process")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def test_process(path: Path, as_json: bool) -> None:
    """Run a process's test cases (test_<name>.json beside the diagram) on a throwaway database."""
    from .process_tests import run_folder
    from .settings import Settings

    settings = Settings.from_env()
    results = run_folder(path, settings.process_settings, settings.registry_writers)
    lines = [f"{'PASS' if r.passed else 'FAIL'} {r.file} {r.case}: {r.message}" for r in results]
    document = [{"file": r.file, "case": r.case, "passed": r.passed, "message": r.message}
                for r in results]  # fmt: skip
    emit({"results": document}, as_json, "\n".join(lines) or "no test cases found")
    if not results or not all(r.passed for r in results):
        sys.exit(1)


@main.command()
@click.option("--process", "process_id", default="residence_registration", show_default=True)
@click.option("--version", type=int, required=True, help="The candidate version to simulate.")
@click.option("--from", "since", callback=parse_now, required=True, help="Start of the period.")
@click.option("--to", "until", callback=parse_now, required=True, help="End of the period.")
@click.option(
    "--staffing",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Staffing plan (JSON); default: learned from the log.",
)
@click.option("--runs", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--seed", default=1, show_default=True, type=int)
@with_product
def simulate(
    product: Product,
    process_id: str,
    version: int,
    since: datetime,
    until: datetime,
    staffing: Path | None,
    runs: int,
    seed: int,
    as_json: bool,
) -> None:
    """Simulate the period with the version that ran and with a candidate, side by side."""
    from .simulation.plan import read_staffing
    from .simulation.report import Request, compare, text_table

    plan = read_staffing(staffing) if staffing else None
    request = Request(process_id, version, since, until, runs, seed, plan)
    bar = click.progressbar(length=2 * runs, label="simulating", file=sys.stderr)
    with bar, product.session_factory() as session:
        result = compare(product.runtime, session, request, progress=bar.update)
    emit(result, as_json, text_table(result))
