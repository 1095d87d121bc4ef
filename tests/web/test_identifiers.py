"""IIN check digits and the ARC format."""

import pytest

from webapp.identifiers import is_valid_arc, is_valid_iin


@pytest.mark.parametrize(
    "iin",
    ["900701300108", "851231401208", "050311600009", "000229501204", "880517401806"],
)
def test_published_and_second_sequence_iins_are_valid(iin):
    assert is_valid_iin(iin)


@pytest.mark.parametrize("iin", ["900701300107", "880517401807", "85031430417", "85031430417a"])
def test_wrong_check_digit_or_shape_is_invalid(iin):
    assert not is_valid_iin(iin)


def test_arc_is_ten_to_twenty_digits():
    assert is_valid_arc("0201300012")
    assert not is_valid_arc("020130001")
    assert not is_valid_arc("02013000123456789012x")
