"""The learned model, the simulation of the real diagram, the back-test and repeatability."""

from collections import Counter

from webapp.simulation import model as learned
from webapp.simulation.model import learn, percentile
from webapp.simulation.report import Request, compare
from webapp.simulation.staffing import hour_of_week

from .conftest import COUNT, MONDAY, arrival

WEEK_END = MONDAY.replace(day=9)
TERM = 15 * 60


def request(**values) -> Request:
    """Return a request over the known history's week, candidate version 2."""
    return Request("review", values.pop("version", 2), MONDAY, WEEK_END, **values)


def test_model_learns_the_hand_known_task_times_choices_and_arrivals(known):
    with known.session_factory() as session:
        model = learn(session, "review", MONDAY, WEEK_END)
    check = model.tasks["Task_Check"]
    assert sorted(check.waiting) == sorted(c[0] * 60.0 for c in known.checks)
    assert sorted(check.working) == sorted(c[1] * 60.0 for c in known.checks)
    refusals = {False: known.refused, True: COUNT - known.refused}
    assert {c["documents_ok"]: w for c, w in zip(check.choices, check.weights, strict=True)} == (
        refusals
    )
    assert check.lane == "Clerk"
    assert len(model.arrivals) == COUNT
    # Hours of the week are Almaty's: the applications came from 14:00 there.
    hours = Counter(
        f"{'online' if n % 2 else 'service_centre'}|{hour_of_week(arrival(n))}"
        for n in range(COUNT)
    )
    assert hour_of_week(arrival(0)) == 14
    assert model.rates == {key: float(n) for key, n in sorted(hours.items())}
    assert model.outcomes == {
        "refused": known.refused / COUNT,
        "registered": 1 - known.refused / COUNT,
    }
    # One clerk completed every check, each in the hour its application came, one at a time.
    assert model.staffing["Clerk"][14] == 1 and model.staffing["Clerk"][3] == 0
    assert model.duty["Task_Check"][14] and not model.duty["Task_Check"][3]
    assert sorted(lead for _c, lead in model.observed) == sorted(known.leads)


def test_an_application_whose_data_was_not_kept_borrows_one_that_went_its_way(known, monkeypatch):
    # One application's data drawn; each of the four ways through (two channels, checked
    # and refused or checked and approved) the draw missed is kept one more.
    monkeypatch.setattr(learned, "MAX_SAMPLES", 1)
    with known.session_factory() as session:
        model = learn(session, "review", MONDAY, WEEK_END)
    assert len(model.samples) == 4

    def way(n: int) -> tuple[int, bool]:
        return n % 2, n % 5 != 2

    for n, (_offset, sample) in enumerate(model.arrivals):
        borrowed = int(model.samples[sample]["application_number"][2:])
        assert way(borrowed) == way(n)


def test_back_test_reproduces_share_within_term_and_p90_lead_within_ten_percent(known):
    with known.session_factory() as session:
        result = compare(known.runtime, session, request(version=1, runs=20))
    leads = sorted(known.leads)
    share = sum(lead <= TERM for lead in leads) / len(leads)
    assert result["observed"] == {"share_within_term": share, "lead_p90": percentile(leads, 90)}
    simulated = result["current"]
    assert abs(simulated["share_within_term"]["mean"] - share) <= 0.1 * share
    assert abs(simulated["lead_p90"]["mean"] - percentile(leads, 90)) <= 0.1 * percentile(leads, 90)


def test_candidate_with_an_added_user_task_predicts_a_lower_share_within_term(known):
    with known.session_factory() as session:
        result = compare(known.runtime, session, request(runs=5))
    current, candidate = result["current"], result["candidate"]
    assert candidate["share_within_term"]["mean"] < current["share_within_term"]["mean"]
    assert "Task_SecondCheck" in candidate["queue_waits"]
    assert "Task_SecondCheck" not in current["queue_waits"]


def test_same_seed_gives_the_same_result(known):
    with known.session_factory() as session:
        first = compare(known.runtime, session, request(runs=3, seed=7))
        again = compare(known.runtime, session, request(runs=3, seed=7))
    assert first == again
