"""Panel screens rendered from plain data: every screen at every size, autoescaping, money."""
import datetime

import pytest

from panel_menus.menus import SCREEN_SIZES
from panel_menus.render import SCREENS, PanelRenderer, UnknownScreen, format_money, format_time
from release_api.services import AccountChoice, Balance, PanelDevice
from tests.release_api.panel_test_double import ALICE, sample_jobs

CONTEXT = dict(
    device=PanelDevice("d", "2F <Copy> room"), user=ALICE, balance=Balance(1250, "EUR"), csrf="tok",
    jobs=sample_jobs(), digits=3, step="pin", user_number="42", results=[], headline="Done", all_ok=True, title="Oops", text="Why", back="/panel/",
    needs_account=True, accounts=[AccountChoice("cc-4711", "Cost centre 4711", True), AccountChoice("x", "Project X")],
)


@pytest.mark.parametrize("size", list(SCREEN_SIZES))
@pytest.mark.parametrize("screen", list(SCREENS))
def test_every_screen_renders_at_every_size(screen, size):
    html = PanelRenderer().render(screen, size, **CONTEXT)
    assert f"screen-{SCREEN_SIZES[size].density}" in html
    assert f'width={SCREEN_SIZES[size].width}' in html
    assert "2F &lt;Copy&gt; room" in html and "<Copy>" not in html


def test_no_screen_loads_anything_from_elsewhere():
    for screen in SCREENS:
        html = PanelRenderer().render(screen, "800x480", **CONTEXT)
        assert "http://" not in html and "https://" not in html and "<script" not in html


def test_the_pin_pad_shows_the_user_number_then_the_pin_as_dots():
    number_step = PanelRenderer().render("pin", "800x480", **{**CONTEXT, "step": "number", "digits": 2})
    assert "Your user number, then your PIN" in number_step and ">42<" in number_step and "●" not in number_step
    pin_step = PanelRenderer().render("pin", "800x480", **CONTEXT)
    assert "User 42: your PIN" in pin_step and pin_step.count("●") == 3


def test_an_unknown_screen_is_an_error():
    with pytest.raises(UnknownScreen):
        PanelRenderer().render("admin", "800x480")


def test_an_unknown_size_falls_back_to_800x480():
    assert "width=800" in PanelRenderer().render("idle", "1x1")


@pytest.mark.parametrize("minor, currency, text", [
    (1250, "EUR", "€12.50"), (-30, "EUR", "-€0.30"), (500, "JPY", "¥500"), (123456789, "USD", "$1,234,567.89"),
    (1005, "SEK", "10.05 SEK"), (1234, "KWD", "1.234 KWD"),
])
def test_money_is_formatted_from_minor_units(minor, currency, text):
    assert format_money(minor, currency) == text


def test_times_today_show_the_clock_and_older_ones_the_date():
    now = datetime.datetime(2026, 11, 21, 12, 0)
    assert format_time(datetime.datetime(2026, 11, 21, 9, 5), now) == "09:05"
    assert format_time(datetime.datetime(2026, 11, 19, 9, 5), now) == "19 Nov 09:05"


def test_the_job_list_marks_forced_changes_and_jobs_this_device_cannot_print():
    html = PanelRenderer().render("jobs", "480x272", **CONTEXT)
    assert "Changed: duplex — rule &#39;Save paper&#39;: jobs over 10 pages" in html
    assert 'class="job job-blocked"' in html and 'value="j3" disabled' in html
    assert "Cannot print here" in html and "€1.50" in html


def test_logged_in_pages_refresh_to_the_idle_logout():
    html = PanelRenderer().render("jobs", "800x480", refresh_to="/panel/logout?why=idle", **CONTEXT)
    assert '<meta http-equiv="refresh" content="60;url=/panel/logout?why=idle">' in html


def test_print_all_says_how_many_jobs_it_will_print():
    html = PanelRenderer().render("jobs", "480x272", **CONTEXT)
    assert "Print all (3)" in html


def test_the_confirmation_screen_offers_the_accounts_and_a_pin_field_where_one_is_needed():
    html = PanelRenderer().render("confirm", "800x480", **CONTEXT)
    assert 'name="account" value="cc-4711" checked' in html and 'value="x"' in html
    assert 'name="account_pin"' in html and "PIN needed" in html


def test_the_confirmation_screen_says_when_there_is_no_account_to_charge():
    html = PanelRenderer().render("confirm", "800x480", **dict(CONTEXT, accounts=[]))
    assert "no shared account you may charge" in html and 'id="confirm-print" disabled' in html
