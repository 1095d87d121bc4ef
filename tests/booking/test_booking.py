"""Visit booking: slots from opening hours and desks, the 10-day rule, and cancellation."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from webapp.booking import (
    BookingNotFound,
    CentreInvalid,
    CentreNotFound,
    NotASlot,
    PersonAlreadyBooked,
    SlotFull,
    SlotInPast,
    SlotTooFarAhead,
    VisitAlreadyStarted,
    available_slots,
    book,
    bookings_for,
    bookings_of,
    cancel,
    list_centres,
    save_centres,
)

ALMATY = ZoneInfo("Asia/Almaty")
MONDAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
TEN = datetime(2026, 11, 30, 10, 0)
APPLICANT = "850314304175"
OWNER = "621102401239"
PARENT = "830422401983"
RETURNEE = "921201306115"


def test_slots_are_fifteen_minutes_within_opening_hours_with_every_desk_free(session):
    slots = available_slots(session, "astana-1", MONDAY)
    assert len(slots) == 8 * 4
    assert slots[0].start == datetime(2026, 11, 30, 9, 0, tzinfo=ALMATY)
    assert slots[0].end == datetime(2026, 11, 30, 9, 15, tzinfo=ALMATY)
    assert slots[15].start.hour == 12 and slots[15].start.minute == 45
    assert slots[16].start.hour == 14
    assert slots[-1].start == datetime(2026, 11, 30, 17, 45, tzinfo=ALMATY)
    assert {slot.free_desks for slot in slots} == {3}


def test_closed_day_has_no_slots(session):
    assert available_slots(session, "astana-1", date(2026, 11, 29)) == []
    assert len(available_slots(session, "astana-1", date(2026, 11, 28))) == 8


def test_booking_takes_a_desk_and_shows_on_the_clerks_day(session):
    visit = book(session, APPLICANT, "astana-1", TEN, NOW, application_number="A-0100")
    assert visit.start == TEN.replace(tzinfo=ALMATY) and visit.desk == 1
    assert visit.end - visit.start == timedelta(minutes=15)
    slot = next(s for s in available_slots(session, "astana-1", MONDAY) if s.start == visit.start)
    assert slot.free_desks == 2
    assert [
        (b.person_iin, b.application_number) for b in bookings_for(session, "astana-1", MONDAY)
    ] == [(APPLICANT, "A-0100")]
    assert bookings_for(session, "astana-1", MONDAY + timedelta(days=1)) == []


def test_aware_start_in_another_zone_books_the_same_slot(session):
    visit = book(session, APPLICANT, "astana-1", datetime(2026, 11, 30, 5, 0, tzinfo=UTC), NOW)
    assert visit.start == TEN.replace(tzinfo=ALMATY)


def test_full_slot_is_refused_and_leaves_the_list(session):
    for person in (APPLICANT, OWNER, PARENT):
        book(session, person, "astana-1", TEN, NOW)
    with pytest.raises(SlotFull) as refused:
        book(session, RETURNEE, "astana-1", TEN, NOW)
    assert refused.value.status == 409
    starts = {slot.start for slot in available_slots(session, "astana-1", MONDAY)}
    assert TEN.replace(tzinfo=ALMATY) not in starts
    assert sorted(b.desk for b in bookings_for(session, "astana-1", MONDAY)) == [1, 2, 3]


def test_second_booking_within_ten_days_is_refused_with_the_date_it_becomes_possible(session):
    first = book(session, APPLICANT, "astana-1", TEN, NOW)
    with pytest.raises(PersonAlreadyBooked) as refused:
        book(session, APPLICANT, "astana-1", TEN + timedelta(days=7), NOW + timedelta(days=9))
    assert refused.value.booking_id == first.id
    assert refused.value.details["until"] == NOW + timedelta(days=10)
    assert "2026-12-07" in refused.value.message


def test_booking_is_possible_again_ten_days_after_the_last_one(session):
    book(session, APPLICANT, "astana-1", TEN, NOW)
    later = datetime(2026, 12, 8, 10, 0)
    visit = book(session, APPLICANT, "astana-1", later, NOW + timedelta(days=10))
    assert visit.start == later.replace(tzinfo=ALMATY)
    assert len(bookings_of(session, APPLICANT)) == 2


def test_ten_day_rule_comes_from_settings(session):
    book(session, APPLICANT, "astana-1", TEN, NOW, settings={"booking_block_days": "2"})
    assert book(
        session,
        APPLICANT,
        "astana-1",
        TEN + timedelta(days=1),
        NOW + timedelta(days=2),
        settings={"booking_block_days": "2"},
    )


def test_cancellation_frees_the_slot_and_the_person(session):
    for person in (APPLICANT, OWNER, PARENT):
        book(session, person, "astana-1", TEN, NOW)
    mine = next(b for b in bookings_of(session, APPLICANT))
    cancelled = cancel(
        session, mine.id, person_iin=APPLICANT, now=NOW, reason="The applicant cancelled."
    )
    assert cancelled.cancelled_at == NOW and cancelled.cancel_reason == "The applicant cancelled."
    assert book(session, RETURNEE, "astana-1", TEN, NOW).desk == mine.desk
    assert book(session, APPLICANT, "astana-1", TEN + timedelta(minutes=15), NOW)
    history = bookings_of(session, APPLICANT)
    assert [b.cancel_reason for b in history] == [None, "The applicant cancelled."]


def test_cancelling_twice_changes_nothing(session):
    visit = book(session, APPLICANT, "astana-1", TEN, NOW)
    first = cancel(session, visit.id, person_iin=APPLICANT, now=NOW, reason="first")
    again = cancel(session, visit.id, person_iin=None, now=NOW + timedelta(hours=1), reason="x")
    assert again == first


def test_another_persons_booking_cannot_be_cancelled(session):
    visit = book(session, APPLICANT, "astana-1", TEN, NOW)
    with pytest.raises(BookingNotFound):
        cancel(session, visit.id, person_iin=OWNER, now=NOW, reason="not mine")


def test_started_visit_cannot_be_cancelled(session):
    visit = book(session, APPLICANT, "astana-1", TEN, NOW)
    with pytest.raises(VisitAlreadyStarted):
        cancel(session, visit.id, person_iin=APPLICANT, now=visit.start, reason="late")


def test_times_off_the_slot_grid_or_outside_hours_are_refused(session):
    for wrong in (
        datetime(2026, 11, 30, 10, 5),
        datetime(2026, 11, 30, 13, 0),
        datetime(2026, 11, 30, 18, 0),
        datetime(2026, 11, 29, 10, 0),
    ):
        with pytest.raises(NotASlot):
            book(session, APPLICANT, "astana-1", wrong, NOW)


def test_past_and_far_future_slots_are_refused(session):
    with pytest.raises(SlotInPast):
        book(session, APPLICANT, "astana-1", TEN, datetime(2026, 11, 30, 5, 0, tzinfo=UTC))
    with pytest.raises(SlotTooFarAhead):
        book(session, APPLICANT, "astana-1", datetime(2026, 12, 14, 10, 0), NOW)


def test_available_slots_given_now_leave_out_passed_times(session):
    slots = available_slots(
        session, "astana-1", MONDAY, now=datetime(2026, 11, 30, 12, 0, tzinfo=ALMATY)
    )
    assert slots[0].start == datetime(2026, 11, 30, 12, 15, tzinfo=ALMATY)


def test_unknown_centre_is_refused(session):
    with pytest.raises(CentreNotFound):
        available_slots(session, "nowhere", MONDAY)


def test_centres_are_saved_and_updated_from_records(session):
    save_centres(
        session,
        [
            {"id": "astana-1", "name": "Astana No. 1", "desks": 1, "opening_hours": {}},
            {
                "id": "almaty-2",
                "name": "Almaty No. 2",
                "desks": 2,
                "opening_hours": {"mon": ["08:00-24:00"]},
            },
        ],
    )
    centres = {centre.id: centre for centre in list_centres(session)}
    assert centres["astana-1"].desks == 1 and centres["astana-1"].opening_hours == {}
    assert available_slots(session, "almaty-2", MONDAY)[-1].start.hour == 23


def test_centres_and_bookings_are_named_in_the_language_else_by_their_stored_name(session):
    save_centres(session, [{"id": "AST-YESIL", "name": "Yesil", "desks": 1,
                            "opening_hours": {"mon": ["09:00-18:00"]}}])  # fmt: skip
    kazakh = "Астана, Есіл ауданының халыққа қызмет көрсету орталығы"
    names = {centre.id: centre.name for centre in list_centres(session, "kk")}
    assert names == {"AST-YESIL": kazakh, "astana-1": "Astana service centre No. 1"}
    assert {centre.name for centre in list_centres(session)} == {"Yesil", names["astana-1"]}
    visit = book(session, APPLICANT, "AST-YESIL", TEN, NOW, language="kk")
    assert visit.centre_name == kazakh
    assert [b.centre_name for b in bookings_of(session, APPLICANT, "kk")] == [kazakh]
    assert [b.centre_name for b in bookings_for(session, "AST-YESIL", MONDAY, "kk")] == [kazakh]
    assert [b.centre_name for b in bookings_of(session, APPLICANT)] == ["Yesil"]


VALID = {"id": "bad", "name": "Bad", "desks": 1, "opening_hours": {}}


@pytest.mark.parametrize(
    "record",
    [
        VALID | {"desks": 0},
        VALID | {"timezone": "Mars/Olympus"},
        VALID | {"opening_hours": {"mon": ["9-18"]}},
        VALID | {"opening_hours": {"mon": ["14:00-18:00", "09:00-13:00"]}},
        VALID | {"opening_hours": {"monday": ["09:00-18:00"]}},
        {key: value for key, value in VALID.items() if key != "name"},
    ],
)
def test_centre_that_cannot_give_slots_is_refused(session, record):
    with pytest.raises(CentreInvalid):
        save_centres(session, [record])
