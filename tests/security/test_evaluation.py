"""One restricted, bounded evaluator for everything a diagram can make the product evaluate.

Finding 1: the portal's channel policy ran its decision table on SpiffWorkflow's stock engine
(plain `eval`), and validation skipped tables no task called. Finding 4: one line (`'x' * 4e9`,
`7 ** 12e6`) held the interpreter for seconds and gigabytes, because the budget counted lines.
"""

import ast
import functools
import re
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from tests.online.conftest import (  # noqa: F401  (fixtures)
    COOWNED_ARC,
    app,
    instance,
    runtime,
    sessions,
    signed_in,
    template_instance,
)
from tests.runtime.conftest import engine, registry  # noqa: F401  (fixtures)
from tests.runtime.conftest import runtime as runtime_on  # noqa: F401  (fixture)
from webapp.cli import main
from webapp.db.models import DeploymentFile, HumanTask
from webapp.runtime.decisions import decide
from webapp.runtime.engine import Runtime
from webapp.runtime.errors import InvalidDiagram, ScriptError
from webapp.runtime.scripting import MAX_SECONDS, ScriptEnvironment, render, restricted_engine
from webapp.runtime.specs import parse_bundle
from webapp.runtime.xmlsafe import parse_xml

ROOT = Path(__file__).resolve().parents[2]
ENGINE_PACKAGE = ROOT / "webapp" / "runtime" / "scripting"
# Generous: each hostile form must end with its budget (MAX_SECONDS at most), not after it.
QUICKLY = MAX_SECONDS + 8
# (name, expression over the data's `n`, n): data-dependent, so only running them reveals them.
HOSTILE = [
    ("repetition", "len('x' * (4 * 10**n))", 9),
    ("power", "7 ** (12 * 10**n) % 2", 6),
    ("shift", "(1 << 10**n) > 0", 10),
    ("list repetition", "len([0] * 10**n)", 10),
    ("widening method", "len('x'.ljust(10**n))", 10),
    ("huge comprehension", "len([0 for a in range(10**n) for b in range(10**n)])", 5),
    ("growing memory", "len(['x' * 10**n for i in range(10**5)])", 6),
    ("method called from C", "len(list(map('x'.ljust, [10**n] * 10**5)))", 6),
    ("shared structure written out", "len(str([[0] * 10**n] * 1000))", 5),
]


def constant(expression: str, n: int) -> str:
    """Return the expression with its `n` written out."""
    return re.sub(r"\bn\b", str(n), expression)


# The blow-ups written with constants: refused on the syntax tree, before anything runs.
CONSTANT = [constant(expression, n) for _, expression, n in HOSTILE[:5]]
NESTED_LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"
MEMORY_LOOP = "x = []\nwhile True:\n    x.append('x' * 10**n)"


def hostile_ids() -> list[str]:
    return [name for name, _, _ in HOSTILE]


def bpmn(process_id: str, body: str, first: str) -> bytes:
    """Return a BPMN file of one process: start, `body` (whose first node is `first`), end."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="Definitions_{process_id}" targetNamespace="https://tirkeu.kz/tests">
  <bpmn:process id="{process_id}" isExecutable="true">
    <bpmn:startEvent id="Event_Start"/>
    <bpmn:sequenceFlow id="Flow_Start" sourceRef="Event_Start" targetRef="{first}"/>
    {body}
    <bpmn:endEvent id="Event_End"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def dmn(decision_id: str, output: str, input_entry: str = "-") -> bytes:
    """Return a DMN file of one decision whose one rule matches `input_entry` and gives `output`."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="Definitions_{decision_id}"
    name="{decision_id}" namespace="https://tirkeu.kz/tests">
  <decision id="{decision_id}" name="{decision_id}">
    <decisionTable id="DecisionTable_{decision_id}" hitPolicy="FIRST">
      <input id="Input_{decision_id}" label="n">
        <inputExpression id="InputExpression_{decision_id}" typeRef="integer"><text>n</text>
        </inputExpression>
      </input>
      <output id="Output_{decision_id}" label="result" name="result" typeRef="integer"/>
      <rule id="Rule_{decision_id}">
        <inputEntry id="InputEntry_{decision_id}"><text>{escape(input_entry)}</text></inputEntry>
        <outputEntry id="OutputEntry_{decision_id}"><text>{escape(output)}</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>""".encode()


def with_script(process_id: str, script: str) -> bytes:
    return bpmn(process_id, f"""
    <bpmn:scriptTask id="Task_Script"><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_End" sourceRef="Task_Script" targetRef="Event_End"/>""",
        "Task_Script")  # fmt: skip


def with_condition(process_id: str, condition: str) -> bytes:
    return bpmn(process_id, f"""
    <bpmn:exclusiveGateway id="Gateway_Check" default="Flow_Default"/>
    <bpmn:sequenceFlow id="Flow_Taken" sourceRef="Gateway_Check" targetRef="Event_End">
      <bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_Default" sourceRef="Gateway_Check" targetRef="Event_Other"/>
    <bpmn:endEvent id="Event_Other"/>""", "Gateway_Check")  # fmt: skip


def with_timer(process_id: str, duration: str) -> bytes:
    return bpmn(process_id, f"""
    <bpmn:intermediateCatchEvent id="Event_Wait">
      <bpmn:timerEventDefinition id="Timer_Wait">
        <bpmn:timeDuration>{escape(duration)}</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_End" sourceRef="Event_Wait" targetRef="Event_End"/>""",
        "Event_Wait")  # fmt: skip


def with_decision(process_id: str, decision_id: str) -> bytes:
    return bpmn(process_id, f"""
    <bpmn:businessRuleTask id="Task_Decide">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>{decision_id}</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
    </bpmn:businessRuleTask>
    <bpmn:sequenceFlow id="Flow_End" sourceRef="Task_Decide" targetRef="Event_End"/>""",
        "Task_Decide")  # fmt: skip


def with_instructions(process_id: str, template: str) -> bytes:
    return bpmn(process_id, f"""
    <bpmn:userTask id="Task_Read">
      <bpmn:extensionElements>
        <spiffworkflow:instructionsForEndUser>{escape(template)}</spiffworkflow:instructionsForEndUser>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="Flow_End" sourceRef="Task_Read" targetRef="Event_End"/>""",
        "Task_Read")  # fmt: skip


def refused(files: dict[str, bytes]) -> list:
    with pytest.raises(InvalidDiagram) as error:
        parse_bundle(files, {})
    return error.value.problems


def timed(work) -> tuple[Exception | None, float]:
    """Run `work`; return the exception it raised (None if none) and the seconds it took."""
    start = time.monotonic()
    try:
        work()
    except Exception as error:  # noqa: BLE001  (the tests look at which it is)
        return error, time.monotonic() - start
    return None, time.monotonic() - start


# Finding 1: one evaluator, and every file of a bundle validated.


def evaluators_outside_the_engine(root: Path) -> list[str]:
    """Return `file:line: call` for each eval/exec/compile or script engine built outside it."""
    builtins = {"eval", "exec", "compile"}
    builders = {
        "PythonScriptEngine", "TaskDataEnvironment",
        "BasePythonScriptEngineEnvironment", "ScriptEngine", "ScriptEnvironment",
        "SandboxedEnvironment", "ImmutableSandboxedEnvironment", "TemplateEnvironment",
        "compile_restricted", "compile_restricted_eval", "compile_restricted_exec",
    }  # fmt: skip
    found = []
    for folder in ("webapp", "service_tasks"):
        for path in sorted((root / folder).rglob("*.py")):
            if ENGINE_PACKAGE in path.parents:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                    if name in builders or (isinstance(func, ast.Name) and name in builtins):
                        found.append(f"{path.relative_to(root)}:{node.lineno}: {name}()")
    return found


def test_no_module_but_the_engine_evaluates_code_or_builds_a_script_engine():
    assert evaluators_outside_the_engine(ROOT) == []


def test_the_source_check_catches_the_old_channel_policy(tmp_path):
    """The walk above sees what the old policy module did: build SpiffWorkflow's own engine."""
    (tmp_path / "webapp").mkdir()
    (tmp_path / "service_tasks").mkdir()
    (tmp_path / "webapp" / "policy.py").write_text(
        "from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine\n"
        "engine = PythonScriptEngine()\nvalue = eval('1')\n"
    )
    assert evaluators_outside_the_engine(tmp_path) == [
        "webapp/policy.py:2: PythonScriptEngine()",
        "webapp/policy.py:3: eval()",
    ]


def channel_policy_bundle(cell: str) -> dict[str, bytes]:
    """A process that calls no table, beside a channel policy table with `cell` as an output."""
    return {
        "residence_registration.bpmn": with_script("residence_registration", "done = True"),
        "channel_policy.dmn": dmn("channel_policy", cell),
    }


def test_an_unreferenced_table_with_an_import_cell_is_refused_with_file_and_line():
    (problem,) = refused(channel_policy_bundle("__import__('os').system('id')"))
    assert problem.file == "channel_policy.dmn" and problem.line
    assert "'__import__' is not allowed" in problem.message


def test_tirkeu_validate_and_deploy_refuse_an_unreferenced_hostile_table(tmp_path):
    for name, content in channel_policy_bundle("__import__('os').system('id')").items():
        (tmp_path / name).write_bytes(content)
    env = {
        "TIRKEU_INSTANCE_PATH": str(tmp_path / "instance"),
        "TIRKEU_DATABASE_URL": f"sqlite:///{tmp_path / 'tirkeu.db'}",
    }
    runner = CliRunner()
    assert runner.invoke(main, ["init"], env=env).exit_code == 0
    validated = runner.invoke(main, ["validate", str(tmp_path)], env=env)
    assert validated.exit_code == 1
    (line,) = validated.stdout.splitlines()
    assert line.startswith(f"{tmp_path / 'channel_policy.dmn'}:") and "__import__" in line
    assert int(line.split(":")[1]) > 1
    deployed = runner.invoke(main, ["deploy", str(tmp_path)], env=env)
    assert deployed.exit_code == 1 and "__import__" in deployed.output


def test_the_portal_channel_policy_runs_on_the_restricted_engine(
    signed_in,  # noqa: F811
    sessions,  # noqa: F811
    tmp_path,
):
    """A hostile table that got into the database anyway cannot run a command online."""
    marker = tmp_path / "owned"
    with sessions() as session, session.begin():
        table = session.scalar(
            select(DeploymentFile.content).where(DeploymentFile.name == "channel_policy.dmn")
        )
        hostile = table.replace(
            b'<text>"online"</text>',
            f"<text>__import__('os').system('touch {marker}') == 0</text>".encode(),
            1,
        )
        session.execute(
            update(DeploymentFile)
            .where(DeploymentFile.name == "channel_policy.dmn")
            .values(content=hostile)
        )
    applicant = signed_in("applicant")
    response = applicant.post(
        "/portal/apply",
        {"registration_type": "permanent", "for_whom": "self", "ownership": "owner",
         "arc": COOWNED_ARC},
    )  # fmt: skip
    assert not marker.exists()
    assert response.status_code == 422
    assert "__import__" in response.get_data(as_text=True)


def test_a_decision_asked_by_name_refuses_an_import_cell_before_it_runs(tmp_path):
    marker = tmp_path / "owned"
    table = dmn("channel_policy", f"__import__('os').system('touch {marker}')")
    with pytest.raises(ScriptError, match="__import__"):
        decide(parse_xml(table).getroot(), "channel_policy", {"n": 1}, restricted_engine())
    assert not marker.exists()


# Finding 4: no evaluation past its budget, wherever it is written.


@pytest.mark.parametrize(("expression", "n"), [h[1:] for h in HOSTILE], ids=hostile_ids())
def test_a_hostile_expression_is_refused_or_stopped_quickly(expression, n):
    error, seconds = timed(lambda: ScriptEnvironment({}).evaluate(expression, {"n": n}))
    assert isinstance(error, ScriptError), error
    assert "refused" in str(error) or "stopped" in str(error)
    assert seconds < QUICKLY


def test_a_script_that_grows_memory_line_by_line_is_stopped_by_its_memory_budget():
    error, seconds = timed(lambda: ScriptEnvironment({}).execute(MEMORY_LOOP, {"n": 6}))
    assert isinstance(error, ScriptError) and "MiB" in str(error)
    assert seconds < QUICKLY


@pytest.mark.parametrize(
    "template",
    [
        NESTED_LOOPS,
        "{{ 'x' * 10**10 }}",
        "{{ 'x'.ljust(10**10) }}",
        "{{ 'x'|center(10**10) }}",
        "{{ '{:>9999999999}'.format(1) }}",
        "{{ [1, 2]|slice(10**8)|list|length }}",
        '{% set ns = namespace(s="x") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}'
        "{% endfor %}{{ ns.s|length }}",
    ],
    ids=["nested loops", "repetition", "method", "filter", "format", "python loop", "doubling"],
)
def test_a_hostile_template_is_refused_or_stopped_quickly(template):
    error, seconds = timed(lambda: render(template, {}))
    assert isinstance(error, ScriptError), error
    assert seconds < QUICKLY


# 40 levels of one shared object: small in memory, 2**40 items compared or hashed in one C call.
SELF_SIMILAR = (
    "a = [0]\nb = [0]\nt = (0,)\nfor i in range(40):\n    a, b, t = [a, a], [b, b], (t, t)\n"
)
COMPARING = {
    "equality": "x = a == b",
    "membership": "x = a in [b]",
    "set display": "x = {t}",
    "set call": "x = set([t])",
    "set called from C": "x = list(map(set, [[t]]))",
    "set under another name": "s = set\nx = s([t])",
    "set method": "x = set().union([t])",
    "dict key written": "d = {}\nd[t] = 1",
    "dict key read": "x = {1: 2}[t]",
    "dict method": "x = {}.get(t)",
    "dict class method": "x = dict.fromkeys([t])",
    "dict comprehension": "x = {k: 1 for k in [t]}",
    "list method": "x = [a].index(b)",
    "list method on the type": "x = list.count([a], b)",
    "sorted generator": "x = sorted(y for y in (a, b))",
    "key results": "x = max([1, 2], key=lambda i: a if i == 1 else b)",
}


@pytest.mark.parametrize("use", COMPARING.values(), ids=COMPARING.keys())
def test_comparing_or_hashing_a_self_similar_structure_is_refused(use):
    error, seconds = timed(lambda: ScriptEnvironment({}).execute(SELF_SIMILAR + use, {}))
    assert isinstance(error, ScriptError) and "compared or hashed" in str(error), error
    assert seconds < QUICKLY


@pytest.mark.parametrize(
    "use",
    [
        "{{ ns.a == ns.b }}",
        "{{ ns.a in [ns.b] }}",
        "{{ [ns.a, ns.b]|sort }}",
        "{{ [ns.a].index(ns.b) }}",
    ],
    ids=["equality", "membership", "sort filter", "list method"],
)
def test_a_template_comparing_a_self_similar_structure_is_stopped(use):
    build = (
        "{% set ns = namespace(a=[0], b=[0]) %}{% for i in range(40) %}"
        "{% set ns.a = [ns.a, ns.a] %}{% set ns.b = [ns.b, ns.b] %}{% endfor %}"
    )
    error, seconds = timed(lambda: render(build + use, {}))
    assert isinstance(error, ScriptError), error
    assert seconds < QUICKLY


WRITTEN = {
    "str called from C": "x = list(map(str, [a]))",
    "repr called from C": "x = list(map(repr, [a]))",
    "str under another name": "s = str\nx = s(a)",
}


@pytest.mark.parametrize("use", WRITTEN.values(), ids=WRITTEN.keys())
def test_writing_out_a_self_similar_structure_is_refused_however_str_is_reached(use):
    error, seconds = timed(lambda: ScriptEnvironment({}).execute(SELF_SIMILAR + use, {}))
    assert isinstance(error, ScriptError) and "more than" in str(error), error
    assert seconds < QUICKLY


@pytest.mark.parametrize(
    "use",
    ["{{ ns.a|string }}", "{{ ns.a ~ '' }}", "{{ ns.a|tojson }}", "{{ ns.a|e }}"],
    ids=["string filter", "concatenation", "tojson filter", "escape filter"],
)
def test_a_template_writing_out_a_self_similar_structure_is_stopped(use):
    build = (
        "{% set ns = namespace(a=[0]) %}{% for i in range(40) %}"
        "{% set ns.a = [ns.a, ns.a] %}{% endfor %}"
    )
    error, seconds = timed(lambda: render(build + use, {}))
    assert isinstance(error, ScriptError), error
    assert seconds < QUICKLY


def test_a_name_of_the_data_reads_as_a_whole_evaluation_reads_it():
    """A bare name is read from the data directly: the data's value before a helper's, a
    keyword as the constant, `_` names refused, the value's size checked."""
    environment = ScriptEnvironment({})
    data = {"person_iin": "850314304175", "date": "data", "True": 1, "_secret": 1}
    assert environment.evaluate(" person_iin ", data) == "850314304175"
    assert environment.evaluate("date", data) == "data"
    assert environment.evaluate("date", {}) is date
    assert environment.evaluate("True", data) is True
    with pytest.raises(ScriptError, match="'_secret' is not allowed"):
        environment.evaluate("_secret", data)
    with pytest.raises(ScriptError, match="more than"):
        environment.evaluate("big", {"big": list(range(2_000_001))})


def test_checked_comparisons_and_builtins_keep_their_meaning():
    data = {}
    ScriptEnvironment({}).execute(
        "kinds = isinstance({}, dict) and isinstance(set(), (set, list))\n"
        "keys = dict.fromkeys(['a'], 0)\nordered = sorted([3, 1, 2], key=lambda q: -q)\n"
        "biggest = max(1, 2)\nfound = 'b' in {'a', 'b'} and {'a': 1}['a'] == 1\n"
        "pairs = dict([('k', 1)], j=2)\nfirst = [1, 2, 1].index(2)\n"
        "text = isinstance(str(12), str) and list(map(str, [1, 2])) == ['1', '2']",
        data,
    )
    assert data == {
        "kinds": True,
        "keys": {"a": 0},
        "ordered": [3, 2, 1],
        "biggest": 2,
        "found": True,
        "pairs": {"k": 1, "j": 2},
        "first": 1,
        "text": True,
    }
    assert render("{{ [3, 1, 2]|sort|list }} {{ 'a' in ['a'] }} {{ 1 ~ 'x' }}", {}) == (
        "[1, 2, 3] True 1x"
    )


@pytest.mark.parametrize("expression", CONSTANT)
def test_validation_refuses_constant_blow_ups_in_every_place(expression):
    files = {
        "script.bpmn": with_script("script", f"x = {expression}"),
        "condition.bpmn": with_condition("condition", expression),
        "timer.bpmn": with_timer("timer", expression),
        "unreferenced.dmn": dmn("unreferenced", expression),
        "entry.dmn": dmn("entry", "1", f"> {expression}"),
    }
    error, seconds = timed(lambda: parse_bundle(files, {}))
    assert isinstance(error, InvalidDiagram)
    assert seconds < QUICKLY
    located = {(problem.file, problem.element) for problem in error.problems}
    assert located == {
        ("script.bpmn", "Task_Script"),
        ("condition.bpmn", "Gateway_Check"),
        ("timer.bpmn", "Event_Wait"),
        ("unreferenced.dmn", "OutputEntry_unreferenced"),
        ("entry.dmn", "InputEntry_entry"),
    }
    assert all(problem.line and "refused" in problem.message for problem in error.problems)


@pytest.mark.parametrize(
    "place",
    [
        lambda: with_timer("timer", f"'PT' + str({constant(*HOSTILE[5][1:])}) + 'S'"),
        lambda: with_instructions("instructions", NESTED_LOOPS),
    ],
    ids=["timer loop", "instructions loops"],
)
def test_validation_stops_what_it_evaluates_within_the_budget(place):
    """Timers and instructions are evaluated at validation: a loop in them is stopped there."""
    error, seconds = timed(lambda: parse_bundle({"hostile.bpmn": place()}, {}))
    assert isinstance(error, InvalidDiagram)
    assert "stopped" in error.problems[0].message and error.problems[0].line
    assert seconds < QUICKLY


def hostile_bundle() -> dict[str, bytes]:
    """One process per place and hostile form, each waiting for its `n` in the start data."""
    files = {}
    for index, (_, expression, _) in enumerate(HOSTILE):
        files[f"script_{index}.bpmn"] = with_script(f"script_{index}", f"x = {expression}")
        files[f"condition_{index}.bpmn"] = with_condition(f"condition_{index}", f"{expression}")
        files[f"timer_{index}.bpmn"] = with_timer(
            f"timer_{index}", f"'PT' + str(int(bool({expression}))) + 'S'"
        )
        files[f"decision_{index}.bpmn"] = with_decision(f"decision_{index}", f"table_{index}")
        files[f"table_{index}.dmn"] = dmn(f"table_{index}", expression)
    files["memory.bpmn"] = with_script("memory", MEMORY_LOOP)
    files["instructions.bpmn"] = with_instructions(
        "instructions", "{% for a in range(n) %}{% for b in range(n) %}x{% endfor %}{% endfor %}"
    )
    return files


def test_hostile_forms_stop_each_place_at_run_time_as_an_incident(
    runtime_on: Runtime,  # noqa: F811
):
    """Scripts, conditions, timers and decision cells: each becomes an incident, quickly."""
    runtime_on.deploy(hostile_bundle())
    for index, (name, _, n) in enumerate(HOSTILE):
        for place in ("script", "condition", "timer", "decision"):
            start = time.monotonic()
            view = runtime_on.instance(runtime_on.start(f"{place}_{index}", {"n": n}).id)
            assert time.monotonic() - start < QUICKLY, (place, name)
            assert view.status == "error", (place, name)
            message = view.incidents[0].message
            assert "refused" in message or "stopped" in message, (place, name, message)
    memory = runtime_on.instance(runtime_on.start("memory", {"n": 6}).id)
    assert memory.status == "error" and "MiB" in memory.incidents[0].message


def test_instructions_that_loop_are_stopped_and_the_task_still_shows(
    runtime_on: Runtime,  # noqa: F811
):
    start = time.monotonic()
    runtime_on.deploy(hostile_bundle())
    view = runtime_on.start("instructions", {"n": 100_000})
    assert time.monotonic() - start < QUICKLY + MAX_SECONDS
    (task,) = view.ready_tasks
    with runtime_on.session_factory() as session:
        instructions = session.get(HumanTask, task.id).instructions
    assert "could not be rendered: script stopped" in instructions


def test_a_hostile_cell_of_a_decision_asked_by_name_is_stopped():
    for _, expression, n in HOSTILE:
        table = parse_xml(dmn("channel_policy", expression)).getroot()
        error, seconds = timed(
            functools.partial(decide, table, "channel_policy", {"n": n}, restricted_engine())
        )
        assert isinstance(error, ScriptError) and seconds < QUICKLY


def get(url: str) -> float:
    """GET a page; return the seconds it took."""
    start = time.monotonic()
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.status == 200
        response.read()
    return time.monotonic() - start


def test_other_requests_are_answered_while_a_hostile_script_runs(
    app,  # noqa: F811
    runtime,  # noqa: F811
    live_url,
):
    """The hostile forms and a loop that only its time budget ends run in one of the app's
    threads; the server keeps answering another page all along."""
    forms = [(f"script_{index}", n) for index, (_, _, n) in enumerate(HOSTILE)]
    runtime.deploy(
        {
            **{f"{p}.bpmn": hostile_bundle()[f"{p}.bpmn"] for p, _ in forms},
            "endless.bpmn": with_script("endless", "while True:\n    x = 7 ** 35000 % n"),
        }
    )
    outcomes = []

    def attack() -> None:
        for process_id, n in [*forms, ("endless", 3)]:
            outcomes.append(runtime.instance(runtime.start(process_id, {"n": n}).id))

    attacker = threading.Thread(target=attack)
    get(f"{live_url}/login")
    attacker.start()
    latencies = []
    while attacker.is_alive():
        latencies.append(get(f"{live_url}/login"))
    attacker.join()
    assert [outcome.status for outcome in outcomes] == ["error"] * (len(forms) + 1)
    assert "stopped" in outcomes[-1].incidents[0].message
    # Answered while the attack ran (the endless loop alone lasts MAX_SECONDS), and never
    # held up for the length of a hostile evaluation.
    assert len(latencies) >= 5
    assert max(latencies) < MAX_SECONDS
