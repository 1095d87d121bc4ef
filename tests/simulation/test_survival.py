"""What the simulation takes from the log as it was: owners' answers the window cut off, reads."""

from datetime import timedelta

import pytest
from sqlalchemy import MetaData, create_engine

from bench import simulation as bench
from webapp.simulation.model import learn
from webapp.simulation.report import router_for, summarise
from webapp.simulation.run import simulate
from webapp.simulation.survival import answer_weights


def test_answers_weigh_as_the_product_limit_estimate_with_the_cut_off_ones_left_over():
    # Answers at 1, 2 and 4 minutes; one task cut off at 3 (a co-owner refused), one at 60
    # (the window). At 1: 5 waiting, 1 answers; at 2: 4, 1; at 4: 2 (the one cut at 3 is
    # gone), 1. Left: 4/5 * 3/4 * 1/2 = 3/10, the one the window cut off.
    weights, never = answer_weights([240.0, 60.0, 120.0], [180.0, 3600.0])
    assert weights == pytest.approx([0.3, 0.2, 0.2])
    assert never == pytest.approx(0.3)
    # Nothing cut off: each answer as often as the log has it, and none never.
    assert answer_weights([60.0, 60.0, 120.0, 300.0], []) == ([0.25] * 4, 0.0)
    # A task cut off when another was answered was still waiting then.
    weights, never = answer_weights([60.0], [60.0])
    assert weights == [0.5] and never == 0.5
    assert answer_weights([], [60.0]) == ([], 1.0)


def test_owners_the_window_cut_off_beside_an_answer_time_out_in_the_simulation(registration):
    runtime, start = registration
    with runtime.transaction() as session:
        model = learn(session, bench.PROCESS_ID, start, start + timedelta(days=28))
        router = router_for(runtime, session, model, model.version)
    consent = model.tasks["Task_GiveConsent"]
    # Those who never answered had nobody answer beside them: they are the unanswered share.
    assert consent.unanswered == 15 and consent.censored == []
    # The same month told otherwise: every application answered by one owner, and as many
    # co-owners' tasks as answers cut off by the window. Half the owners then answer later
    # than the window: the timer must end as many applications as when half never answered.
    consent.unanswered = 0
    consent.censored = [3600.0] * 15
    consent.censored_centres = [None] * 15
    runs = [simulate(model, router, model.staffing, seed) for seed in range(1, 9)]
    assert summarise(runs, 900)["timers_fired"]["Event_ConsentTimeout"] == pytest.approx(
        15, rel=0.35
    )
    # Drawn from the answers alone, every owner would answer within the window.
    consent.censored, consent.censored_centres = [], []
    runs = [simulate(model, router, model.staffing, seed) for seed in range(1, 9)]
    assert "Event_ConsentTimeout" not in summarise(runs, 900)["timers_fired"]


def test_reads_are_answered_as_the_log_recorded_them_for_the_application(registration, tmp_path):
    runtime, start = registration
    with runtime.transaction() as session:
        model = learn(session, bench.PROCESS_ID, start, start + timedelta(days=28))
    assert all("Task_LookUpPerson" in model.reads[n] for n in range(len(model.samples)))
    # The registries have since forgotten everyone: the month still routes as it went then.
    registries = create_engine(f"sqlite:///{tmp_path / 'registries.db'}")
    tables = MetaData()
    tables.reflect(registries)
    with registries.begin() as connection:
        for table in tables.sorted_tables:
            connection.execute(table.delete())
    registries.dispose()
    with runtime.transaction() as session:
        router = router_for(runtime, session, model, model.version)
    runs = [simulate(model, router, model.staffing, seed) for seed in range(1, 4)]
    assert summarise(runs, 900)["outcomes"]["registered"] == pytest.approx(2 / 3, abs=0.1)
