"""The simulation on the real registration diagram: consents, their timer, counter checks."""

from datetime import timedelta

import pytest

from bench import simulation as bench
from webapp.simulation.model import learn
from webapp.simulation.report import observed, router_for, summarise
from webapp.simulation.run import simulate


def test_owners_who_never_answer_time_out_in_the_simulation_as_in_the_log(registration):
    runtime, start = registration
    with runtime.transaction() as session:
        model = learn(session, bench.PROCESS_ID, start, start + timedelta(days=28))
        router = router_for(runtime, session, model, model.version)
        runs = [simulate(model, router, model.staffing, seed) for seed in range(1, 9)]
    consent = model.tasks["Task_GiveConsent"]
    assert consent.unanswered == 15 and len(consent.working) == 15
    assert model.outcomes == {"cancelled": 1 / 3, "registered": 2 / 3}
    assert "Clerk" in model.staffing and "Owner" not in model.staffing
    summary = summarise(runs, 15 * 60)
    # Half the owners asked never answer: a third of all applications end cancelled.
    assert summary["outcomes"]["cancelled"] == pytest.approx(1 / 3, abs=0.1)
    assert summary["timers_fired"]["Event_ConsentTimeout"] == pytest.approx(45 / 3, rel=0.35)
    assert "Task_CheckDocuments" in summary["queue_waits"]
    assert router.engine_runs < 45 * 4
    # The back-test on the real diagram: the month as it happened, within 10%.
    happened = observed(model, 15 * 60)
    share, p90 = summary["share_within_term"]["mean"], summary["lead_p90"]["mean"]
    assert share == pytest.approx(happened["share_within_term"], rel=0.1)
    assert p90 == pytest.approx(happened["lead_p90"], rel=0.1)


def test_registry_failures_hold_a_case_for_the_learned_delay_or_leave_it_in_error(registration):
    runtime, start = registration
    with runtime.transaction() as session:
        model = learn(session, bench.PROCESS_ID, start, start + timedelta(days=28))
        router = router_for(runtime, session, model, model.version)
        healthy = simulate(model, router, model.staffing, 3)
        register = model.services["Task_Register"]
        assert register["calls"] == model.outcomes["registered"] * len(model.observed)
        assert register["failures"] == 0 and register["failure_rate"] == 0
        # Every registration fails once and is retried after ten minutes.
        model.services["Task_Register"] = register | {
            "failures": 1, "failure_rate": 1.0, "delays": [600.0], "stuck": 0
        }  # fmt: skip
        retried = simulate(model, router, model.staffing, 3)
        # Every registration fails for good: those instances stay in error.
        model.services["Task_Register"] |= {"delays": [], "stuck": 1}
        failed = simulate(model, router, model.staffing, 3)
    assert retried.incidents["Task_Register"] == healthy.outcomes["registered"]
    slower = sorted(lead for *_k, lead, _end in retried.leads)
    assert sum(slower) == pytest.approx(
        sum(lead for *_k, lead, _end in healthy.leads) + 600 * healthy.outcomes["registered"]
    )
    assert failed.outcomes["incident"] == healthy.outcomes["registered"]
    assert len(failed.leads) == len(healthy.leads) - healthy.outcomes["registered"]
