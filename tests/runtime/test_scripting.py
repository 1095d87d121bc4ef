"""Untrusted scripts: escapes are refused before they run, and no script runs forever."""

import pytest

from webapp.runtime.errors import ScriptError
from webapp.runtime.scripting import ScriptEnvironment, check_source

ESCAPES = [
    "import os",
    "from os import system",
    "__import__('os').system('id')",
    "open('/etc/passwd').read()",
    "().__class__.__base__.__subclasses__()",
    "'{0.__class__}'.format(1)",
    "'{x}'.format_map({'x': 1})",
    "getattr(1, '__class__')",
    "eval('1')",
    "exec('x = 1')",
    "type(1)",
    "[c for c in ().__class__.__mro__]",
    "globals()",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempts_are_refused_on_their_syntax_tree(source):
    assert check_source(source, "exec")


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempts_do_not_run(source):
    with pytest.raises(ScriptError):
        ScriptEnvironment({}).execute(source, {})


def test_str_format_is_refused_even_through_a_variable():
    environment = ScriptEnvironment({})
    with pytest.raises(ScriptError):
        environment.execute("f = 'x'.format\nresult = f()", {})


def test_a_script_that_loops_forever_is_stopped():
    with pytest.raises(ScriptError, match="stopped"):
        ScriptEnvironment({}).execute("n = 0\nwhile True:\n    n += 1", {})


def test_a_huge_range_is_refused():
    with pytest.raises(ScriptError, match="range"):
        ScriptEnvironment({}).execute("x = list(range(10 ** 9))", {})


def test_scripts_see_helpers_and_write_back_only_data():
    data = {"born": "2010-01-15", "nested": {"a": 1}}
    ScriptEnvironment({"config": lambda name: 14}).execute(
        "age = age_on(born, '2026-11-27')\nold_enough = age >= config('minimum_age')\n"
        "nested['a'] = 2\ndef helper():\n    return 1",
        data,
    )
    assert data == {"born": "2010-01-15", "nested": {"a": 2}, "age": 16, "old_enough": True}


def test_mutating_nested_data_leaves_the_original_objects_alone():
    """SpiffWorkflow shares nested values with earlier tasks: the script works on a copy."""
    earlier = {"a": 1}
    data = {"nested": earlier}
    ScriptEnvironment({}).execute("nested['a'] = 2", data)
    assert earlier == {"a": 1} and data["nested"] == {"a": 2}


def test_a_value_a_script_only_reads_stays_the_same_object():
    """What compares a task's data with its parent's finds an unread or unchanged value at once."""
    person, premises = {"age": 30, "names": ["A"]}, {"rooms": 2}
    data = {"person": person, "premises": premises}
    ScriptEnvironment({}).execute("adult = person['age'] >= 18\nperson = person", data)
    assert data == {"person": person, "premises": premises, "adult": True}
    assert data["person"] is person and data["premises"] is premises


def test_a_script_deletes_and_rebinds_data_names():
    data = {"gone": 1, "kept": 2, "renamed": [1]}
    ScriptEnvironment({}).execute("del gone\nrenamed = renamed + [2]", data)
    assert data == {"kept": 2, "renamed": [1, 2]}


def test_names_read_inside_comprehensions_and_functions_are_in_reach():
    data = {"items": [1, 5, 9], "limit": 4, "factor": 3}
    ScriptEnvironment({}).execute(
        "big = [i for i in items if i > limit]\n"
        "def scaled(value):\n    return [v * factor for v in value]\n"
        "result = scaled(big)",
        data,
    )
    assert data["big"] == [5, 9] and data["result"] == [15, 27]


def test_expressions_evaluate_over_the_data():
    assert ScriptEnvironment({}).evaluate("count * 2 + len(items)", {"count": 3, "items": [1]}) == 7


@pytest.mark.parametrize(
    "source", ["True", "False", "None", "'account'", ' "sms" ', "3", "0x10", "1_000", "3.5", "''"]
)
def test_a_literal_gives_the_value_its_evaluation_gives(source):
    value = ScriptEnvironment({}).evaluate(source, {"account": "a name, not the text"})
    assert value == eval(source.strip()) and type(value) is type(eval(source.strip()))  # noqa: S307


def test_a_literal_past_the_size_of_a_value_is_refused_as_its_evaluation_is():
    with pytest.raises(ScriptError):
        ScriptEnvironment({}).evaluate("'" + "x" * 2_000_001 + "'", {})
