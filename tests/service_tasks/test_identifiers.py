"""IIN and ARC validation: the check digit with both weight sequences, and the ARC pattern."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service_tasks.identifiers import (
    IIN_WEIGHTS,
    arc_problem,
    iin_birth_date,
    iin_check_digit,
    iin_problem,
    is_valid_arc,
    is_valid_iin,
)

DOMAIN_PERSONAS = [
    "850314304175",
    "621102401239",
    "600520302564",
    "830422401983",
    "100115500316",
    "110610600781",
    "121120500429",
    "150203600191",
    "750830403504",
    "921201306115",
    "880517401806",
]
PUBLISHED_VALID = ["900701300108", "851231401208", "050311600009", "000229501204"]

prefixes = st.text(alphabet="0123456789", min_size=11, max_size=11)


@pytest.mark.parametrize("iin", PUBLISHED_VALID)
def test_published_examples_are_valid(iin: str) -> None:
    assert iin_problem(iin) is None
    assert is_valid_iin(iin)


def test_published_invalid_example_has_a_wrong_check_digit() -> None:
    assert "wrong check digit" in iin_problem("900701300107")


@pytest.mark.parametrize("iin", DOMAIN_PERSONAS)
def test_every_persona_of_the_domain_brief_is_valid(iin: str) -> None:
    assert is_valid_iin(iin)


def test_880517401806_is_valid_only_through_the_second_weight_sequence() -> None:
    first_pass = sum(int(d) * w for d, w in zip("88051740180", IIN_WEIGHTS, strict=True)) % 11
    assert first_pass == 10
    assert iin_check_digit("88051740180") == 6
    assert is_valid_iin("880517401806")


def test_880517401807_is_invalid() -> None:
    assert "wrong check digit" in iin_problem("880517401807")


def test_a_prefix_with_ten_in_both_sequences_is_never_issued() -> None:
    assert iin_check_digit("85051740120") is None
    for last in "0123456789":
        assert "never issued" in iin_problem("85051740120" + last)


@given(prefixes)
def test_every_prefix_has_at_most_one_valid_last_digit(prefix: str) -> None:
    valid = [d for d in "0123456789" if is_valid_iin(prefix + d)]
    expected = iin_check_digit(prefix)
    assert valid == ([] if expected is None else [str(expected)])


@given(prefixes)
def test_the_check_digit_is_the_weighted_sum_of_the_sequence_that_does_not_give_ten(
    prefix: str,
) -> None:
    digits = [int(c) for c in prefix]
    first = sum(d * w for d, w in zip(digits, range(1, 12), strict=True)) % 11
    second = sum(d * w for d, w in zip(digits, [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2], strict=True))
    expected = first if first != 10 else (None if second % 11 == 10 else second % 11)
    assert iin_check_digit(prefix) == expected


@given(st.text(max_size=14).filter(lambda s: not (len(s) == 12 and s.isascii() and s.isdigit())))
def test_anything_but_twelve_ascii_digits_is_refused(value: str) -> None:
    assert iin_problem(value) is not None


@pytest.mark.parametrize("value", [None, 850314304175, "８５０３１４３０４１７５", " 850314304175"])
def test_non_strings_and_non_ascii_digits_are_refused(value: object) -> None:
    assert not is_valid_iin(value)


def test_birth_date_comes_from_the_digits_and_the_century_digit() -> None:
    assert iin_birth_date("850314304175") == date(1985, 3, 14)
    assert iin_birth_date("100115500316") == date(2010, 1, 15)
    assert iin_birth_date("570821216047") == date(1857, 8, 21)


@pytest.mark.parametrize("iin", ["850314004175", "850314904175", "851332304175", "85031430417"])
def test_digits_that_imply_no_date_give_no_birth_date(iin: str) -> None:
    assert iin_birth_date(iin) is None


@pytest.mark.parametrize("arc", ["0123456789", "01234567890123456789", "0201100045810023"])
def test_ten_to_twenty_digits_are_an_arc(arc: str) -> None:
    assert is_valid_arc(arc)


@pytest.mark.parametrize(
    "arc", ["012345678", "012345678901234567890", "02011000a5810023", "", None]
)
def test_other_values_are_not_an_arc(arc: object) -> None:
    assert "ARC must be" in arc_problem(arc)


def test_arc_length_bounds_are_configurable() -> None:
    assert is_valid_arc("12345678", min_length=8, max_length=8)
    assert not is_valid_arc("0201100045810023", min_length=8, max_length=12)
