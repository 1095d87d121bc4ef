"""`tirkeu instances`: repair instances from the command line as the cockpit does."""

import sys
from dataclasses import asdict

import click

from webapp.analytics.instances import InstanceFilter
from webapp.bootstrap import Product
from webapp.cli import emit, show_instance, with_product
from webapp.cli import instance_id as find_instance
from webapp.privacy import EVERYTHING
from webapp.runtime import repair, variable_edit

from . import batches


@click.group("instances")
def instances() -> None:
    """Repair instances as the administrators' cockpit does: variables, tokens, batches."""


def tokens_text(tokens) -> str:
    """Return tokens one a line: element, state, scope, task id."""
    return (
        "\n".join(
            f"  {t.bpmn_id} {t.state}{f' (inside {t.scope})' if t.scope else ''} [{t.task_id}]"
            for t in tokens
        )
        or "  none"
    )


@instances.command("set-variable")
@click.argument("instance")
@click.argument("name")
@click.argument("value")
@click.option("--reason", required=True, help="Why: recorded with the value before and after.")
@click.option("--by", "actor", required=True, help="Who sets it: recorded as the actor.")
@with_product
def set_variable(
    product: Product, instance: str, name: str, value: str, reason: str, actor: str,
    as_json: bool,
) -> None:  # fmt: skip
    """Set a variable of an INSTANCE (id or application number) to a JSON VALUE."""
    instance_id = find_instance(product, instance)
    variable_edit.set_variable(
        product.runtime, instance_id, name, variable_edit.parse_value(value), reason, actor
    )
    show_instance(product, instance_id, as_json)


@instances.command("modify")
@click.argument("instance")
@click.option("--cancel", multiple=True, help="Cancel this token (a task id of `tokens`).")
@click.option("--start-before", multiple=True, help="Start a token before this element.")
@click.option("--start-after", multiple=True, help="Start a token after this element.")
@click.option("--reason", help="Why: recorded with the tokens left (needed to apply).")
@click.option("--by", "actor", help="Who modifies it: recorded as the actor (needed to apply).")
@click.option("--preview", is_flag=True, help="Print the tokens before and after; change nothing.")
@with_product
def modify(
    product: Product, instance: str, cancel: tuple[str, ...], start_before: tuple[str, ...],
    start_after: tuple[str, ...], reason: str | None, actor: str | None, preview: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Cancel tokens and start tokens before or after elements of an INSTANCE, in one step."""
    instance_id = find_instance(product, instance)
    operations = [
        *(repair.Operation("cancel", target) for target in cancel),
        *(repair.Operation("start_before", target) for target in start_before),
        *(repair.Operation("start_after", target) for target in start_after),
    ]
    if preview:
        found = repair.preview(product.runtime, instance_id, operations)
        document = {
            "before": [t.to_dict() for t in found.before],
            "after": [t.to_dict() for t in found.after],
        }
        text = f"now:\n{tokens_text(found.before)}\nafter:\n{tokens_text(found.after)}"
        emit(document, as_json, text)
        return
    if not actor:
        raise click.UsageError("--by is needed to apply a modification")
    repair.modify(product.runtime, instance_id, operations, reason or "", actor)
    show_instance(product, instance_id, as_json)


@instances.command("tokens")
@click.argument("instance")
@with_product
def tokens_command(product: Product, instance: str, as_json: bool) -> None:
    """List the tokens of an INSTANCE and the elements a token may start at."""
    state = repair.repairable(product.runtime, find_instance(product, instance))
    document = {
        "tokens": [t.to_dict() for t in state.tokens],
        "elements": [e.id for e in state.elements],
    }
    emit(document, as_json, f"tokens:\n{tokens_text(state.tokens)}\nelements: "
         + ", ".join(e.id for e in state.elements))  # fmt: skip


@instances.command("batch")
@click.argument("kind", type=click.Choice(("retry", "terminate")))
@click.option("--process", "process_id", help="Only this process's instances.")
@click.option("--version", type=int, help="Only this version of the process.")
@click.option("--status", help="Only instances in this status.")
@click.option("--incident", is_flag=True, help="Only instances with an open incident.")
@click.option("--search", help="An application number or IIN.")
@click.option("--by", "actor", help="Who runs it: recorded as the actor (needed to run).")
@click.option("--preview", is_flag=True, help="Print how many instances it takes; change nothing.")
@with_product
def batch(
    product: Product, kind: str, process_id: str | None, version: int | None,
    status: str | None, incident: bool, search: str | None, actor: str | None, preview: bool,
    as_json: bool,
) -> None:  # fmt: skip
    """Retry or terminate every instance the filters find, each in its own step."""
    filters = InstanceFilter(
        process_id=process_id, version=version, status=status, incident=incident, search=search
    )
    with product.session_factory() as session:
        found = batches.preview(session, kind, filters, EVERYTHING)
    if preview or not found.count:
        emit({"kind": kind, "count": found.count}, as_json, f"{kind}: {found.count} instances")
        return
    if not actor:
        raise click.UsageError("--by is needed to run a batch")
    results, after = [], 0
    with click.progressbar(length=found.count, label=kind, file=sys.stderr) as bar:
        while after is not None:
            chunk = batches.run_chunk(
                product.runtime, kind, filters, EVERYTHING, actor, found.upto, after
            )
            results += chunk.results
            bar.update(len(chunk.results))
            after = chunk.after
    lines = [f"{r.business_key or r.instance_id}: {r.outcome}"
             + (f" ({r.message})" if r.message else "") for r in results]  # fmt: skip
    emit({"kind": kind, "results": [asdict(r) for r in results]}, as_json, "\n".join(lines))
