"""Money typed by people is converted exactly, never through float."""
import pytest

from accounting.money import SIDE_PRICE_DIGITS, format_amount, parse_amount


@pytest.mark.parametrize("text, minor", [("12.30", 1230), ("12", 1200), ("-0.5", -50), ("0.01", 1), (" 7.1 ", 710)])
def test_amounts_parse_to_minor_units(text, minor):
    assert parse_amount(text) == minor


@pytest.mark.parametrize("text", ["12.305", "abc", "nan", "inf", "", "1e20"])
def test_inexact_or_absurd_amounts_are_refused(text):
    with pytest.raises(ValueError):
        parse_amount(text)


def test_side_prices_keep_thousandths_of_a_cent():
    assert parse_amount("0.005", SIDE_PRICE_DIGITS) == 500
    assert parse_amount("0.00001", SIDE_PRICE_DIGITS) == 1


def test_amounts_format_with_two_decimals():
    assert [format_amount(a) for a in (0, 5, -5, 123456)] == ["0.00", "0.05", "-0.05", "1234.56"]
    assert format_amount(150, "CHF") == "1.50 CHF"
