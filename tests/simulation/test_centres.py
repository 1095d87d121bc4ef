"""Per-centre pools: staffing learned per service centre, a plan per centre and shift, and the
utilisation and waits a centre with fewer clerks shows."""

import json
from datetime import timedelta

import pytest

from webapp.db.session import make_engine, make_session_factory, upgrade
from webapp.runtime.engine import Runtime
from webapp.runtime.errors import InvalidData
from webapp.settings import SUMMARY_FIELDS
from webapp.simulation.model import learn
from webapp.simulation.plan import merged, parse_staffing
from webapp.simulation.report import router_for
from webapp.simulation.run import poisson_arrivals, simulate

from .conftest import MONDAY, REVIEW, Clock
from .test_cli_simulate import PERIOD, invoke

AST, ALM = "AST-YESIL", "ALM-BOSTANDYK"
WEEK_END = MONDAY + timedelta(days=7)
# (centre, start, claimed, completed) of each check, in minutes after Monday 04:00 UTC, which is
# 09:00 in Almaty (hour of the week 9): two Astana checks held at once, one in Almaty at ten,
# one online application's check at eleven.
CHECKS = ((AST, 0, 5, 20), (AST, 0, 10, 25), (ALM, 60, 62, 70), (None, 120, 121, 131))


@pytest.fixture
def centres(sqlite_url):
    """Run the four checks through the runtime; each refuses, so no supervisor is needed."""
    clock = Clock()
    engine = make_engine(sqlite_url)
    upgrade(engine)
    runtime = Runtime(
        make_session_factory(engine), {}, {"service_term": "PT15M"}, clock=clock,
        summary_fields=SUMMARY_FIELDS,
    )  # fmt: skip
    runtime.deploy({"review.bpmn": REVIEW.read_bytes()})
    opened = MONDAY + timedelta(hours=4)
    tasks = []
    for n, (centre, start, _claimed, _completed) in enumerate(CHECKS):
        clock.now = opened + timedelta(minutes=start)
        data = {"application_number": f"A-{n:04d}", "registration_type": "permanent",
                "channel": "service_centre" if centre else "online",
                "applicant_iin": "850314304175", "person_iin": "850314304175"}  # fmt: skip
        if centre:
            data["service_centre_id"] = centre
        tasks.append(runtime.start("review", data).ready_tasks[0].id)
    moments = sorted(
        [(claimed, "claim", n) for n, (*_s, claimed, _c) in enumerate(CHECKS)]
        + [(completed, "complete", n) for n, (*_s, completed) in enumerate(CHECKS)]
    )
    for minute, what, n in moments:
        clock.now = opened + timedelta(minutes=minute)
        if what == "claim":
            runtime.claim(tasks[n], f"clerk{n}")
        else:
            refused = {"documents_ok": False, "reason": "documents_missing"}
            runtime.complete(tasks[n], refused, actor=f"clerk{n}")
    yield runtime
    engine.dispose()


def hours(**counts: int) -> list[int]:
    """Return 168 hourly counts, zero but at the hours given as h9=2."""
    plan = [0] * 168
    for hour, n in counts.items():
        plan[int(hour[1:])] = n
    return plan


def test_staffing_and_working_times_are_learned_per_centre(centres):
    with centres.session_factory() as session:
        model = learn(session, "review", MONDAY, WEEK_END)
    # Astana held two checks at once at nine, Almaty one at ten, the online pool one at eleven.
    assert model.staffing == {
        f"Clerk@{AST}": hours(h9=2),
        f"Clerk@{ALM}": hours(h10=1),
        "Clerk": hours(h11=1),
    }
    check = model.tasks["Task_Check"]
    assert sorted(zip(check.centres, check.working, strict=True), key=str) == sorted(
        [(AST, 900.0), (AST, 900.0), (ALM, 480.0), (None, 600.0)], key=str
    )
    times = model.as_json()["tasks"]["Task_Check"]["working_by_centre"]
    assert times[AST]["p50"] == 900.0 and times[ALM]["p50"] == 480.0
    assert model.centre_rates == {f"{AST}|9": 2.0, f"{ALM}|10": 1.0}


def test_fewer_clerks_at_one_centre_raise_its_waits_and_utilisation(centres):
    with centres.session_factory() as session:
        model = learn(session, "review", MONDAY, WEEK_END)
        router = router_for(centres, session, model, 1)
    arrivals = poisson_arrivals(model, 120, seed=5)
    plenty = merged(model.staffing, {f"Clerk@{AST}": [3] * 168, f"Clerk@{ALM}": [3] * 168})
    fewer = plenty | {f"Clerk@{AST}": [1] * 168}
    assert merged(model.staffing, None) == model.staffing
    # A plan for one centre leaves the others as learned; a lane alone stands in for them all.
    assert merged(model.staffing, {f"Clerk@{AST}": [1] * 168}) == model.staffing | {
        f"Clerk@{AST}": [1] * 168
    }
    assert merged(model.staffing, {"Clerk": [2] * 168, f"Clerk@{ALM}": [1] * 168}) == {
        "Clerk": [2] * 168,
        f"Clerk@{ALM}": [1] * 168,
    }
    rich = simulate(model, router, plenty, 2, arrivals)
    poor = simulate(model, router, fewer, 2, arrivals)

    def waited(result, pool):
        return sum(result.pool_waits[pool]) / len(result.pool_waits[pool])

    def utilisation(result, pool):
        return sum(result.busy[pool]) / sum(result.staffed[pool])

    pool = f"Clerk@{AST}"
    assert rich.pool_waits[pool] and len(poor.pool_waits[pool]) == len(rich.pool_waits[pool])
    assert waited(poor, pool) > waited(rich, pool)
    assert utilisation(poor, pool) > utilisation(rich, pool)


@pytest.mark.parametrize(
    ("plan", "reason"),
    [
        ({"Clerk@NOWHERE": 2}, "pool 'Clerk@NOWHERE': 'NOWHERE' is not a service centre"),
        ({"@AST-YESIL": 2}, "pool '@AST-YESIL' names no lane"),
        ({f"Clerk@{AST}": [{"days": "mon-sun", "hours": "9-13", "clerks": 2}]},
         "shift 1: hours '9-13' is not like 09:00-13:00"),
        ({f"Clerk@{AST}": [{"days": "fri-mon", "hours": "09:00-13:00", "clerks": 2}]},
         "shift 1: days 'fri-mon' is not like mon-fri"),
        ({f"Clerk@{AST}": [{"days": "sat", "hours": "09:00-13:00", "clerks": -1}]},
         "shift 1: clerks -1 is not a count"),
    ],
)  # fmt: skip
def test_a_bad_staffing_plan_is_refused_naming_the_field(plan, reason):
    with pytest.raises(InvalidData) as refused:
        parse_staffing(json.dumps(plan))
    assert refused.value.errors == {"staffing": refused.value.errors["staffing"]}
    assert reason in refused.value.errors["staffing"]


def test_shifts_give_clerks_per_local_hour_and_add_up_where_they_overlap():
    plan = parse_staffing(
        json.dumps(
            {f"Clerk@{AST}": [{"days": "mon-fri", "hours": "09:00-13:00", "clerks": 3},
                              {"days": "mon,sat", "hours": "12:00-14:00", "clerks": 1}]}
        )
    )[f"Clerk@{AST}"]  # fmt: skip
    assert plan[9] == 3 and plan[12] == 4 and plan[13] == 1 and plan[14] == 0
    assert plan[24 + 12] == 3 and plan[24 + 13] == 0 and plan[5 * 24 + 12] == 1
    assert plan[6 * 24 + 10] == 0


def test_the_command_refuses_a_plan_for_an_unknown_centre_and_shows_utilisation(
    known, tmp_path, sqlite_url
):
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"Clerk@NOWHERE": 1}))
    bad = invoke(tmp_path, sqlite_url, "--version", "1", *PERIOD, "--staffing", str(plan))
    assert bad.exit_code == 2 and "staffing: pool 'Clerk@NOWHERE'" in bad.stderr
    text = invoke(tmp_path, sqlite_url, "--version", "1", *PERIOD, "--runs", "1")
    assert "clerk utilisation % by local hour" in text.stdout
    assert "  Clerk: 14h " in text.stdout
