"""`tirkeu init --demo` makes demo keys and centres; `tirkeu sign` signs what the portal checks."""

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from webapp.booking import list_centres
from webapp.bootstrap import build
from webapp.cli import main
from webapp.settings import Settings
from webapp.signing import verify_cms

GULNARA = "621102401239"
APPLICANT = "850314304175"


def demo_instance(tmp_path: Path) -> tuple[dict[str, str], CliRunner, dict]:
    """Set up a demo instance without history; return its environment, a runner, its keys."""
    env = {
        "TIRKEU_INSTANCE_PATH": str(tmp_path / "instance"),
        "TIRKEU_DATABASE_URL": f"sqlite:///{tmp_path / 'tirkeu.db'}",
    }
    runner = CliRunner()
    made = runner.invoke(main, ["init", "--demo", "--history", "0", "--json"], env=env)
    assert made.exit_code == 0, made.output
    return env, runner, json.loads(made.stdout)["demo_keys"]


def test_init_demo_prints_key_paths_and_tirkeu_sign_makes_a_valid_signature(tmp_path):
    instance = tmp_path / "instance"
    env = {
        "TIRKEU_INSTANCE_PATH": str(instance),
        "TIRKEU_DATABASE_URL": f"sqlite:///{tmp_path / 'tirkeu.db'}",
    }
    runner = CliRunner()
    result = runner.invoke(main, ["init", "--demo", "--history", "0", "--json"], env=env)
    assert result.exit_code == 0, result.stderr
    keys = json.loads(result.stdout)["demo_keys"]
    assert set(keys) >= {"ca", "850314304175", GULNARA, "600520302564"}
    document = tmp_path / "consent.txt"
    document.write_text("Келісім / Согласие\n", encoding="utf-8")
    signed = runner.invoke(
        main,
        ["sign", str(document), "--key", keys[GULNARA]["key"],
         "--cert", keys[GULNARA]["certificate"]],
        env=env,
    )  # fmt: skip
    assert signed.exit_code == 0, signed.stderr
    evidence = verify_cms(
        content=document.read_bytes(),
        cms=base64.b64decode(signed.stdout.strip()),
        signer_iin=GULNARA,
        trusted_ca_pems=[Path(keys["ca"]["certificate"]).read_bytes()],
        now=datetime.now(UTC),
    )
    assert evidence.signer_iin == GULNARA
    again = runner.invoke(main, ["init", "--demo", "--history", "0", "--json"], env=env)
    assert json.loads(again.stdout)["demo_keys"] == keys
    product = build(
        Settings.from_env(instance_path=instance, database_url=env["TIRKEU_DATABASE_URL"])
    )
    with product.session_factory() as session:
        assert len(list_centres(session)) >= 2
    product.engine.dispose()


def test_tirkeu_sign_refuses_a_key_of_another_certificate(tmp_path):
    env, runner, keys = demo_instance(tmp_path)
    document = tmp_path / "d.txt"
    document.write_text("text")
    result = runner.invoke(
        main,
        ["sign", str(document), "--key", keys[GULNARA]["key"],
         "--cert", keys["600520302564"]["certificate"]],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 1 and "does not belong" in result.stderr


def test_tirkeu_sign_builds_the_document_the_start_checks_and_tirkeu_start_accepts_it(tmp_path):
    env, runner, keys = demo_instance(tmp_path)
    pair = keys[APPLICANT]
    key, certificate = pair["key"], pair["certificate"]
    data = {
        "channel": "online", "registration_type": "permanent", "applicant_iin": APPLICANT,
        "applicant_type": "self", "person_iin": APPLICANT, "arc": "0201300012740054",
        "arrived_from_abroad": False, "application_date": "2026-11-27",
    }  # fmt: skip
    signed = runner.invoke(
        main,
        ["sign", "--start", "residence_registration", "--data", json.dumps(data),
         "--language", "ru", "--key", key, "--cert", certificate],
        env=env,
    )  # fmt: skip
    assert signed.exit_code == 0, signed.output
    started = runner.invoke(main, ["start", "residence_registration", "--data", signed.stdout,
                                   "--json"], env=env)  # fmt: skip
    assert started.exit_code == 0, started.output
    evidence = json.loads(started.stdout)["data"]["application_signature"]
    assert evidence["method"] == "eds" and evidence["document"]["language"] == "ru"
    assert evidence["document"]["signed_text"].startswith(
        "Заявление о регистрации по месту жительства"
    )
    tampered = {**json.loads(signed.stdout), "arc": "0201100045810023"}
    refused = runner.invoke(main, ["start", "residence_registration", "--data",
                                   json.dumps(tampered)], env=env)  # fmt: skip
    assert refused.exit_code != 0 and "application_signature" in refused.output


def test_tirkeu_sign_signs_an_owners_consent_task_that_tirkeu_complete_accepts(tmp_path):
    env, runner, keys = demo_instance(tmp_path)
    data = {
        "channel": "online", "registration_type": "permanent", "applicant_iin": APPLICANT,
        "applicant_type": "self", "person_iin": APPLICANT, "arc": "0201100045810023",
        "arrived_from_abroad": False, "application_date": "2026-11-27",
    }  # fmt: skip

    def sign(*act: str, iin: str) -> str:
        signed = runner.invoke(
            main, ["sign", *act, "--key", keys[iin]["key"], "--cert", keys[iin]["certificate"]],
            env=env,
        )  # fmt: skip
        assert signed.exit_code == 0, signed.output
        return signed.stdout

    application = sign(
        "--start", "residence_registration", "--data", json.dumps(data), iin=APPLICANT
    )
    instance = json.loads(
        runner.invoke(
            main, ["start", "residence_registration", "--data", application, "--json"], env=env
        ).stdout  # fmt: skip
    )
    task = next(t for t in instance["ready_tasks"] if t.get("assignee") == GULNARA)
    answer = sign("--task", task["id"], "--data", '{"consent_given": true}', iin=GULNARA)
    done = runner.invoke(main, ["complete", task["id"], "--data", answer, "--json"], env=env)
    assert done.exit_code == 0, done.output
    kept = json.loads(done.stdout)["events"]
    assert any("I consent to this registration" in json.dumps(e.get("data") or {}) for e in kept)
