"""Claim, complete, message and timer land on the same instance at once: each happens once."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Barrier

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import InstanceEvent

RACE = Path(__file__).with_name("diagrams") / "race.bpmn"
ROUNDS = 3


def test_claim_complete_message_and_timer_at_once_each_take_effect_once(ops_runtime, ops_engine):
    ops_runtime.deploy({"race.bpmn": RACE.read_bytes()})
    for round_number in range(ROUNDS):
        number = f"R-{round_number}"
        view = ops_runtime.start("race", {"application_number": number})
        tasks = {t.bpmn_id: t.id for t in view.ready_tasks}
        barrier = Barrier(4)
        later = datetime.now(UTC) + timedelta(minutes=2)
        actions = {
            "claim": lambda tasks=tasks: ops_runtime.claim(tasks["Task_Claimed"], "clerk"),
            "complete": lambda tasks=tasks: ops_runtime.complete(
                tasks["Task_Completed"], {"done": True}, actor="clerk2"
            ),
            "message": lambda number=number: ops_runtime.message(
                "fee_paid", {"amount": 1}, {"application_number": number}
            ),
            "timer": lambda later=later: ops_runtime.run_due_jobs(now=later),
        }

        def act(name: str, actions=actions, barrier=barrier) -> str:
            barrier.wait()
            actions[name]()
            return name

        with ThreadPoolExecutor(4) as pool:
            assert sorted(pool.map(act, actions)) == sorted(actions)

        after = ops_runtime.instance(view.id)
        assert [(t.bpmn_id, t.claimed_by) for t in after.ready_tasks] == [("Task_Claimed", "clerk")]
        with Session(ops_engine) as session:
            kinds = Counter(
                session.scalars(
                    select(InstanceEvent.kind).where(InstanceEvent.instance_id == view.id)
                )
            )
            completions = session.scalars(
                select(InstanceEvent.task_id).where(InstanceEvent.kind == "task_completed")
            ).all()
        assert completions.count(tasks["Task_Completed"]) == 1
        assert kinds["claimed"] == 1 and kinds["message_received"] == 1
        assert kinds["timer_fired"] == 1
        assert ops_runtime.run_due_jobs(now=later) == 0
        done = ops_runtime.complete(tasks["Task_Claimed"], {}, actor="clerk")
        assert done.status == "completed" and done.data["payment"]["amount"] == 1
