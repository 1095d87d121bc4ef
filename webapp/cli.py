"""The `tirkeu` command: the product's contract for scripts and tests (see the README)."""

import json
import os
import secrets
import signal
import socket
import sys
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from functools import update_wrapper
from pathlib import Path

import click

from service_tasks.dataset import DEFAULT_DATASET_PATH, DatasetError
from service_tasks.operators import sandbox_store

from . import logmask
from .accounts import create_user, find_user
from .accounts.cli import users
from .analytics.export import export_csv, export_xes
from .analytics.instances import InstanceFilter
from .booking import save_centres
from .bootstrap import Product, build, bundles, initialise, read_bundle
from .online.pki import demo_pki
from .privacy import Privacy
from .runtime import inputs
from .runtime.deployments import STATUSES, DeploymentView
from .runtime.errors import InvalidDiagram, Problem, TirkeuError, field_errors
from .signing import SigningError, sign_document
from .worker import JobWorker


class CommandError(click.ClickException):
    """A refused command: its message on standard error (or JSON with --json).

    An error naming the fields it refused is a bad argument, exit 2 as click's are; any other
    refusal exits 1.
    """

    def __init__(self, error: TirkeuError, as_json: bool):
        super().__init__(error.message)
        self.error = error
        self.as_json = as_json
        self.exit_code = 2 if field_errors(error) is not None else 1

    def show(self, file=None) -> None:
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


@click.group()
def main() -> None:
    """Tirkeu: registration at the place of residence, run as BPMN on SpiffWorkflow."""
    logmask.install()


DEMO_USERS = (
    ("clerk", ("clerk",), None, "Aizhan Clerk"),
    ("supervisor", ("supervisor",), None, "Marat Supervisor"),
    ("owner", ("process_owner",), None, "Dana Process-Owner"),
    ("analyst", ("analyst",), None, "Timur Analyst"),
    ("admin", ("administrator",), None, "Aigul Administrator"),
    ("applicant", ("applicant",), "850314304175", "Yerlan Akhmetov"),
    ("gulnara", ("applicant",), "621102401239", "Gulnara Zhumabayeva"),
    ("kairat", ("applicant",), "600520302564", "Kairat Zhumabayev"),
)


# The demo people who sign with an EDS: (IIN, name on the certificate).
DEMO_SIGNERS = tuple((iin, name) for _user, _roles, iin, name in DEMO_USERS if iin)
CENTRES_PATH = Path(__file__).with_name("data") / "centres.json"


def create_demo_users(product: Product) -> dict[str, str]:
    """Create the demo users that do not exist yet; return their new passwords."""
    passwords = {}
    with product.session_factory() as session, session.begin():
        for username, roles, iin, full_name in DEMO_USERS:
            if find_user(session, username) is None:
                passwords[username] = secrets.token_urlsafe(12)
                create_user(session, username, passwords[username], roles, iin, full_name)
    return passwords


@main.command()
@click.option("--demo", is_flag=True, help="Also create one demo user per role.")
@with_product
def init(product: Product, demo: bool, as_json: bool) -> None:
    """Create or upgrade the schema, deploy processes/ and load the default sandbox data."""
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
    lines = [f"{d.process_id} v{d.version}{' (new)' if d.created else ''}" for d in deployed]
    lines += [f"demo user {name}: password {password}" for name, password in passwords.items()]
    lines += [f"demo {who} key {key} certificate {cert}" for who, (key, cert) in keys.items()]
    emit(
        {
            "deployed": [d.to_dict() for d in deployed],
            "demo_users": passwords,
            "demo_keys": {
                who: {"key": str(k), "certificate": str(c)} for who, (k, c) in keys.items()
            },
        },
        as_json,
        "\n".join(lines) or "up to date",
    )


def located(bundle: dict[str, Path], problems: list[Problem]) -> list[Problem]:
    """Name each problem's file by the path it was read from."""
    return [replace(p, file=str(bundle.get(p.file, p.file))) for p in problems]


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@with_product
def validate(product: Product, paths: tuple[Path, ...], as_json: bool) -> None:
    """Check diagrams, decision tables, forms and translations; print `file:line: message` per
    problem. Translations the process no longer uses are listed but leave the files valid."""
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
@click.option("--status", type=click.Choice(STATUSES), help="Only deployments in this status.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@with_product
def deployments_list(product: Product, status: str | None, limit: int, as_json: bool) -> None:
    """List the newest deployments with their versions and who decided on them."""
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


def show_instance(product: Product, instance_id: int, as_json: bool) -> None:
    """Print an instance as the contract describes it."""
    view = product.runtime.instance(instance_id)
    document = view.to_dict()
    tasks = ", ".join(f"{t.name} [{t.id}]" for t in view.ready_tasks) or "none"
    emit(
        document,
        as_json,
        f"instance {view.id} of {view.process_id} v{view.version}: {view.status}\n"
        f"ready tasks: {tasks}\ndata: {json.dumps(view.data, ensure_ascii=False)}",
    )


@main.command()
@click.argument("process_id")
@json_option("--data", "Start data, a JSON object.")
@with_product
def start(product: Product, process_id: str, data: dict, as_json: bool) -> None:
    """Start an instance and run it until it waits."""
    view = product.runtime.start(process_id, data)
    show_instance(product, view.id, as_json)


@main.command()
@click.option("--instance", "instance_id", type=int, help="Only this instance's tasks.")
@with_product
def tasks(product: Product, instance_id: int | None, as_json: bool) -> None:
    """List the ready user tasks."""
    views = product.runtime.ready_tasks(instance_id)
    emit(
        [
            {
                "id": t.id,
                "instance_id": t.instance_id,
                "bpmn_id": t.bpmn_id,
                "name": t.name,
                "lane": t.lane,
            }
            for t in views
        ],
        as_json,
        "\n".join(f"{t.id}  #{t.instance_id}  {t.lane or '-'}  {t.name}" for t in views)
        or "no ready tasks",
    )


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
@click.argument("instance_id", type=int)
@with_product
def show(product: Product, instance_id: int, as_json: bool) -> None:
    """Show an instance: status, current data, ready tasks, events and incidents."""
    show_instance(product, instance_id, as_json)


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
    if once:
        fired = product.runtime.run_due_jobs(now=now)
        emit({"fired": fired}, as_json, f"fired {fired} job(s)")
        return
    name = f"{socket.gethostname()}:{os.getpid()}"
    sweeper = JobWorker(product.runtime, interval, name, batch, timedelta(seconds=lease), now)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: sweeper.stop())
    click.echo(f"worker {name}: sweeping every {interval}s", err=True)
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
    """Replace the sandbox registries' data with a data set file."""
    try:
        counts = sandbox_store(product.settings.registry).load_dataset_file(file)
    except DatasetError as error:
        raise click.ClickException(str(error)) from error
    emit(counts, as_json, f"loaded {counts['persons']} persons and {counts['premises']} premises")


main.add_command(users)


@main.command("sign")
@click.argument("document", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--cert", "cert_path", required=True, type=click.Path(exists=True, dir_okay=False))
def sign_command(document: Path, key_path: str, cert_path: str) -> None:
    """Sign a JSON document's canonical bytes with a PEM key; print the base64 signature."""
    try:
        click.echo(sign_document(document, key_path, cert_path))
    except (SigningError, ValueError) as error:
        raise click.ClickException(getattr(error, "message", str(error))) from error


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
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
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
    """Serve the web application: waitress with an in-process worker, or gunicorn processes."""
    from .web import create_app

    click.echo(f"Tirkeu on http://{host}:{port}", err=True)
    if workers > 1:
        from .web.gunicorn_app import serve_processes

        product.engine.dispose()
        settings = product.settings
        serve_processes(lambda: create_app(settings), host, port, workers, threads)
        return
    from .web.serve import serve as run_server

    run_server(create_app(product.settings), host=host, port=port, threads=threads)


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
