"""The process texts catalogue: its keys, its `.po` files and the problems it reports."""

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from webapp.bootstrap import bundles, read_bundle
from webapp.cli import main
from webapp.runtime import texts

ROOT = Path(__file__).resolve().parents[2]
PROCESS = ROOT / "processes" / "residence_registration"
LANGUAGES = ("kk", "ru")
BPMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d">
  <bpmn:process id="hello" name="Hello" isExecutable="true">
    <bpmn:startEvent id="Start" name="Asked"/>
    <bpmn:userTask id="Task_Answer" name="Answer">
      <bpmn:extensionElements>
        <spiffworkflow:instructionsForEndUser
          >Answer {{ who }}.</spiffworkflow:instructionsForEndUser>
        <spiffworkflow:properties>
          <spiffworkflow:property name="formJsonSchemaFilename" value="answer.schema.json"/>
        </spiffworkflow:properties>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:serviceTask id="Task_Tell" name="Tell">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="notify.send">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="template" type="str"
              value="&quot;answered_&quot; + outcome"/>
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
    </bpmn:serviceTask>
  </bpmn:process>
</bpmn:definitions>
"""
DMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dm" name="dm" namespace="x">
  <decision id="outcome" name="Outcome">
    <decisionTable id="T" hitPolicy="FIRST">
      <input id="I" label="x">
        <inputExpression id="IE" typeRef="string"><text>x</text></inputExpression>
      </input>
      <output id="O1" name="outcome" typeRef="string"/>
      <output id="O2" name="outcome_text" typeRef="string"/>
      <rule id="R1">
        <inputEntry id="R1I"><text>-</text></inputEntry>
        <outputEntry id="R1O1"><text>"yes"</text></outputEntry>
        <outputEntry id="R1O2"><text>"The answer is yes."</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""
SCHEMA = b"""{"title": "Your answer", "type": "object", "properties": {
  "answer": {"type": "string", "title": "Answer", "description": "Say it.",
             "oneOf": [{"const": "yes", "title": "Yes"}, {"const": "no", "title": "No"}]},
  "mood": {"type": "string", "enum": ["a", "b"], "enumNames": ["Calm", "Busy"]}}}"""
UI = b'{"answer": {"ui:help": "One word.", "ui:widget": "radio"}}'


def bundle(**po: str) -> dict[str, bytes]:
    """Return a small bundle with the given catalogues (`kk="..."`)."""
    files = {"hello.bpmn": BPMN, "outcome.dmn": DMN, "answer.schema.json": SCHEMA,
             "answer.uischema.json": UI}  # fmt: skip
    files.update({texts.po_name(lang): text.encode() for lang, text in po.items()})
    return files


def entry(key: str, english: str, text: str) -> str:
    """Return one `.po` entry."""
    return f'msgctxt "{key}"\nmsgid "{english}"\nmsgstr "{text}"\n\n'


def test_keys_name_element_and_field_of_every_text():
    found = texts.sources(bundle())
    assert {key: source.text for key, source in found.items()} == {
        "hello:name": "Hello",
        "Start:name": "Asked",
        "Task_Answer:name": "Answer",
        "Task_Tell:name": "Tell",
        "Task_Answer:instructions": "Answer {{ who }}.",
        "answer.schema.json:/title": "Your answer",
        "answer.schema.json:/properties/answer/title": "Answer",
        "answer.schema.json:/properties/answer/description": "Say it.",
        "answer.schema.json:/properties/answer/oneOf/0/title": "Yes",
        "answer.schema.json:/properties/answer/oneOf/1/title": "No",
        "answer.schema.json:/properties/mood/enumNames/0": "Calm",
        "answer.schema.json:/properties/mood/enumNames/1": "Busy",
        "answer.uischema.json:/answer/ui:help": "One word.",
        "outcome.dmn:R1O2": "The answer is yes.",
        # A template joined from a literal and a decision's output names each code it can be.
        "notice:answered_yes": "",
    }
    assert found["Task_Answer:name"].element == "Task_Answer"
    assert found["Task_Answer:name"].field == "name"


def complete(language: str, skip: str = "", extra: str = "") -> str:
    """Return a whole catalogue of the small bundle in a language, less one key."""
    lines = [entry(k, s.text or "Answered yes.", f"{language}:{k}")
             for k, s in texts.sources(bundle()).items() if k != skip]  # fmt: skip
    return "".join(lines) + extra


def test_a_complete_catalogue_has_no_problem_and_translates():
    files = bundle(kk=complete("kk"), ru=complete("ru"))
    assert texts.problems(files, LANGUAGES) == []
    catalogue = texts.load(files)
    assert catalogue.text("kk", "Task_Answer:name", "Answer") == "kk:Task_Answer:name"
    assert catalogue.by_source("ru", "The answer is yes.") == "ru:outcome.dmn:R1O2"
    assert catalogue.declared("notice:answered_yes") == "Answered yes."


def test_a_bundle_without_catalogues_is_untranslated_not_invalid():
    assert texts.problems(bundle(), LANGUAGES) == []
    assert texts.load(bundle()).text("kk", "Task_Answer:name") is None


def test_missing_translation_names_element_field_and_language():
    files = bundle(kk=complete("kk", skip="Task_Answer:instructions"), ru=complete("ru"))
    [problem] = texts.problems(files, LANGUAGES)
    assert problem.file == "translations/kk.po"
    assert problem.element == "Task_Answer"
    assert "Kazakh (kk)" in problem.message
    assert "the instructions of Task_Answer" in problem.message
    assert problem.warning and problem.stops_effect


def test_a_language_of_the_product_without_its_catalogue_misses_every_text():
    problems = texts.problems(bundle(ru=complete("ru")), LANGUAGES)
    assert len(problems) == len(texts.sources(bundle()))
    assert all(p.file == "translations/kk.po" for p in problems)


def test_a_translation_written_for_other_english_is_outdated():
    current = 'msgctxt "Task_Answer:name"\nmsgid "Answer"'
    old = complete("kk").replace(current, 'msgctxt "Task_Answer:name"\nmsgid "Reply"')
    [problem] = texts.problems(bundle(kk=old, ru=complete("ru")), LANGUAGES)
    assert "outdated Kazakh (kk) translation of the name of Task_Answer" in problem.message
    assert texts.load(bundle(kk=old)).text("kk", "Task_Answer:name", "Answer") is None


def test_an_entry_for_a_key_the_bundle_no_longer_has_is_stale():
    stale = complete("ru", extra=entry("Task_Gone:name", "Gone", "Нет"))
    [problem] = texts.problems(bundle(kk=complete("kk"), ru=stale), LANGUAGES)
    assert problem.element == "Task_Gone"
    assert "stale Russian (ru) entry 'Task_Gone:name'" in problem.message
    assert problem.line is not None
    assert problem.warning and not problem.stops_effect  # reported, harmless: nothing shows it


def test_a_value_label_must_be_in_every_language():
    label = entry("value:flat", "flat", "пәтер")
    [problem] = texts.problems(bundle(kk=complete("kk", extra=label), ru=complete("ru")), LANGUAGES)
    assert problem.file == "translations/ru.po"
    assert "missing Russian (ru) translation of the label of flat" in problem.message


def test_a_catalogue_that_does_not_parse_is_a_problem():
    [problem] = texts.problems(bundle(kk='msgid "x"\nbogus line\n'), LANGUAGES)
    assert problem.file == "translations/kk.po"
    assert "not a valid gettext catalogue" in problem.message


def test_written_catalogue_reads_back_and_drops_stale_keys():
    catalogue = texts.load(bundle())
    chosen = {"Task_Answer:name": "Жауап", "Task_Gone:name": "Жоқ"}
    content = texts.write(catalogue, "kk", chosen, {"notice:answered_yes": "Answered yes."})
    read = texts.read_catalogue(content)
    assert read["Task_Answer:name"].text == "Жауап"
    assert read["Task_Answer:name"].source == "Answer"
    assert "Task_Gone:name" not in read
    assert read["notice:answered_yes"].source == "Answered yes."
    assert texts.write(catalogue, "kk", chosen, {}) == texts.write(catalogue, "kk", chosen, {})


def test_the_shipped_process_is_translated_into_kazakh_and_russian():
    files = read_bundle(bundles([PROCESS.parent])[0])
    assert {texts.po_name(lang) for lang in LANGUAGES} <= set(files)
    assert texts.problems(files, LANGUAGES) == []
    catalogue = texts.load(files)
    name = "residence_registration:name"
    assert catalogue.text("kk", name) == "Тұрғылықты жері бойынша тіркеу"
    assert catalogue.text("ru", name) == "Регистрация по месту жительства"


@pytest.fixture
def copied(tmp_path) -> Path:
    """A copy of the shipped process folder, to break."""
    folder = tmp_path / "processes" / "residence_registration"
    shutil.copytree(PROCESS, folder)
    return folder


def test_deploying_a_bundle_missing_a_kazakh_text_deploys_nothing(copied, tmp_path):
    po = copied / "translations" / "kk.po"
    missing = re.compile(r'msgctxt "Task_GiveConsent:name"\nmsgid .*?\nmsgstr .*?\n\n', re.DOTALL)
    po.write_text(missing.sub("", po.read_text(encoding="utf-8")), encoding="utf-8")
    env = {"TIRKEU_INSTANCE_PATH": str(tmp_path / "instance"),
           "TIRKEU_DATABASE_URL": f"sqlite:///{tmp_path / 'tirkeu.db'}"}  # fmt: skip
    runner = CliRunner()
    for command in ("validate", "deploy"):
        result = runner.invoke(main, [command, str(copied.parent)], env=env)
        assert result.exit_code == 1, result.output
        output = result.output + (result.stderr or "")
        assert f"{po}:0: Task_GiveConsent: missing Kazakh (kk) translation of the name" in output
    listed = runner.invoke(main, ["deployments", "list", "--json"], env=env)
    assert '"residence_registration"' not in listed.output
