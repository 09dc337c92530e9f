"""The web pages in headless Chromium, as people use them: an admin enrols TOTP and logs
in with it, adds a user with a card, a price list and a rule, and tests the rule against
past jobs; finance tops up an account, exports the ledger and downloads a report; a user reads their history and why a job cost
what it did; single sign-on through a real OpenID Connect provider. Screenshots at
1280×800 and 390×844 are kept under test-artifacts/web/."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pyotp
import pytest

from accounting.rules import Rule

from tests.fixtures.oidc import sso_web_world
from tests.fixtures.web import PASSWORD
from tests.fixtures.web_browser import web_browser

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with sso_web_world(tmp_path_factory.mktemp("browser")) as (world, _):
        world.add_person("ana", roles=("admin",), full_name="Ana Admin")
        world.add_person("fay", roles=("finance",), full_name="Fay Finance")
        world.add_person("bob", full_name="Bob User")
        world.core.accounts.create_shared("marketing", actor="test")
        week_ago = datetime.now(timezone.utc) - timedelta(days=7)
        world.bob_jobs = [world.hold("bob", f"Report {n}.pdf", pages=2 + 20 * (n % 2), color_pages=n % 3,
                                     received_at=week_ago + timedelta(hours=n)) for n in range(6)]
        world.core.rules.add(Rule(name="posters-mono", action="force-mono", conditions={"document": "Poster*"},
                                  params={"message": "Posters print in black and white."}), actor="test")
        world.mono_job = world.hold("bob", "Poster.pdf", pages=4, color_pages=4)
        world.core.rules.remove("posters-mono", actor="test")
        first = datetime.now(timezone.utc).date().replace(day=1)
        world.closed_month = f"{first.year - (first.month <= 3)}-{(first.month - 4) % 12 + 1:02d}"  # 3 months ago
        world.core.periods.close(world.closed_month, actor="fay")
        yield world


def log_in(page, url, username, password=PASSWORD):
    page.goto(url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_an_admin_enrols_totp_then_logs_in_with_it(site):
    with web_browser() as browser:
        page = browser.page
        page.goto(site.url + "/")
        browser.screenshots("welcome")
        page.click("a.button:has-text('Log in')")
        page.wait_for_url("**/login")
        log_in(page, site.url, "ana")
        page.wait_for_url("**/login/enrol")
        assert page.locator("img.qr").is_visible()
        browser.screenshots("enrol-totp")
        secret = page.locator("code.secret").inner_text().replace(" ", "")
        site.totp_secrets["ana"] = secret
        page.fill("input[name=code]", site.fresh_code("ana"))
        page.click("button:has-text('Confirm')")
        assert len(page.locator("ul.codes li").all()) == 10
        browser.screenshots("recovery-codes")
        page.click("text=I have kept them")
        page.wait_for_url("**/admin/")
        browser.screenshots("admin-dashboard")
        page.click("button:has-text('Log out')")
        page.wait_for_url("**/login")
        log_in(page, site.url, "ana")
        page.wait_for_url("**/login/second-factor")
        page.fill("input[name=code]", site.fresh_code("ana"))
        page.click("button:has-text('Continue')")
        page.wait_for_url("**/admin/")
        assert "Ana Admin" in page.inner_text("header")
        assert browser.overflow() == 0


def admin_page(site, browser):
    page = browser.page
    log_in(page, site.url, "ana")
    page.wait_for_url("**/login/second-factor")
    page.fill("input[name=code]", site.fresh_code("ana"))
    page.click("button:has-text('Continue')")
    page.wait_for_url("**/admin/")
    return page


def test_an_admin_adds_a_user_with_a_card_a_price_list_and_a_rule_and_tests_it(site):
    with web_browser() as browser:
        page = admin_page(site, browser)
        page.goto(site.url + "/admin/users")
        form = page.locator("form[method=post][action='/admin/users']")
        form.locator("input[name=username]").fill("dora")
        form.locator("input[name=full_name]").fill("Dora Designer")
        form.locator("input[name=groups]").fill("design")
        form.locator("input[name=cards]").fill("04DD0001")
        form.locator("button").click()
        page.wait_for_url("**/admin/users/dora")
        assert "04DD0001" in page.inner_text("main")
        browser.screenshots("admin-user")
        assert site.core.users.get_user("dora").cards == ["04DD0001"]

        page.goto(site.url + "/admin/prices/edit")
        page.fill("input[name=name]", "colour-a3")
        page.fill("input[name=job_fee]", "5")
        page.locator("input[name=media]").first.fill("*")
        page.locator("input[name=mono]").first.fill("4")
        page.locator("input[name=colour]").first.fill("12.5")
        page.fill("input[name=sample_pages]", "10")
        page.fill("input[name=sample_color_pages]", "4")
        page.click("button:has-text('Preview')")
        preview = page.locator("#preview")
        assert "0.79" in preview.locator("h2").inner_text()  # 5 + 6 × 4 + 4 × 12.5 cents
        browser.screenshots("admin-price-preview")
        page.click("button:has-text('Save')")
        page.wait_for_url("**/admin/prices")
        assert site.core.prices.get("colour-a3").items[("*", True)] == 12_500

        page.goto(site.url + "/admin/rules/edit")
        page.fill("input[name=name]", "long-jobs-duplex")
        page.select_option("select[name=rule_action]", "force-duplex")
        page.fill("textarea[name=conditions]", '{"pages": {"min": 10}}')
        page.click("button:has-text('Test against past jobs')")
        trial = page.locator("#trial")
        assert "would have done" in trial.inner_text()
        assert len(trial.locator("tbody tr").all()) == 3  # the three 22-page reports
        browser.screenshots("admin-rule-test")
        page.click("button:has-text('Save')")
        page.wait_for_url("**/admin/rules")
        assert [r.name for r in site.core.rules.list()] == ["long-jobs-duplex"]
        browser.screenshots("admin-rules")
        page.goto(site.url + "/admin/jobs?owner=bob")
        browser.screenshots("admin-jobs")
        assert browser.overflow() == 0

        page.goto(site.url + "/admin/settings")
        snmp = page.locator("form[action='/admin/settings/snmp']:has(input[value=set])")
        snmp.locator("input[name=name]").fill("office")
        snmp.locator("input[name=community]").fill("office-community")
        snmp.locator("button").click()
        assert "v2c community" in page.inner_text("main") and "office-community" not in page.content()
        browser.screenshots("admin-settings")
        assert browser.overflow() == 0


#: Every list and settings page an admin opens, for the screenshots and the phone check.
ADMIN_TOUR = ("/admin/", "/admin/users", "/admin/groups", "/admin/devices", "/admin/devices/mfp-1", "/admin/queues",
              "/admin/prices", "/admin/rules", "/admin/quotas", "/admin/jobs", "/admin/access-log", "/admin/settings",
              "/finance/", "/finance/accounts", "/finance/ledger", "/finance/audit", "/finance/reports", "/me/money",
              "/me/cards")


def test_every_admin_page_fits_a_phone_without_sideways_scrolling(site):
    with web_browser("phone") as browser:
        page = admin_page(site, browser)
        wide = {}
        for path in ADMIN_TOUR:
            page.goto(site.url + path)
            assert page.locator("h1").count() == 1, path
            browser.screenshots("tour" + path.rstrip("/").replace("/", "-"))
            page.set_viewport_size({"width": 390, "height": 844})
            # Neither the page nor a table in it is wider than the phone.
            overflow = page.evaluate("Math.max(document.documentElement.scrollWidth - window.innerWidth, "
                                     "...[...document.querySelectorAll('.table-wrap')]"
                                     ".map(t => t.scrollWidth - t.clientWidth), 0)")
            if overflow > 0:
                wide[path] = overflow
        assert wide == {}


def test_finance_tops_up_a_shared_account_exports_the_ledger_and_downloads_a_report(site):
    with web_browser() as browser:
        page = browser.page
        log_in(page, site.url, "fay")
        page.wait_for_url("**/login/enrol")
        site.totp_secrets["fay"] = page.locator("code.secret").inner_text().replace(" ", "")
        page.fill("input[name=code]", site.fresh_code("fay"))
        page.click("button:has-text('Confirm')")
        page.click("text=I have kept them")
        page.wait_for_url("**/finance/")
        page.click("a:has-text('marketing')")
        page.fill("form:has(input[value=topup]) input[name=amount]", "25.00")
        page.fill("form:has(input[value=topup]) input[name=reason]", "budget for Q3")
        page.click("button:has-text('Top up')")
        assert "balance now 25.00" in page.inner_text(".flash")
        assert "budget for Q3" in page.inner_text("table")
        browser.screenshots("finance-account")
        assert site.core.accounts.get("marketing").balance == 2500
        page.goto(site.url + "/finance/ledger")
        page.select_option("select[name=kind]", "topup")
        page.click("button:has-text('Filter')")
        browser.screenshots("finance-ledger")
        with page.expect_download() as started:
            page.click("text=Export CSV")
        download = started.value
        assert download.suggested_filename == "ledger-all.csv"
        exported = open(download.path(), encoding="utf-8-sig").read()
        assert "marketing,topup,25.00,25.00,,budget for Q3,fay" in exported
        page.goto(site.url + "/finance/reports")
        this_month = datetime.now(timezone.utc).date().replace(day=1)  # the site's zone is UTC
        page.click(f"tr:has-text('{this_month:%B %Y}') >> text=Choose this month")
        page.select_option("select[name=report]", "chargeback")
        page.select_option("select[name=by]", "account")
        page.select_option("select[name=then]", "user")
        page.select_option("select[name=format]", "csv")
        browser.screenshots("finance-reports")
        closed = datetime.strptime(site.closed_month, "%Y-%m")
        assert "closed" in page.inner_text(f"tr:has-text('{closed:%B %Y}') .badge")
        assert page.input_value("input[name=since]") == this_month.isoformat()
        with page.expect_download() as started:
            page.click("button:has-text('Download')")
        download = started.value
        assert download.suggested_filename.startswith(f"chargeback-account-user-{this_month:%Y%m%d}-")
        report = open(download.path(), encoding="utf-8").read().splitlines()
        assert report[0].startswith("Account,User,Jobs,Pages") and report[-1].startswith("Total,")
        log = site.core.lists.access(username="fay", event="privilege")
        assert any("export of the chargeback report by account,user" in row.detail for row in log.rows)
        page.goto(site.url + "/admin/users")
        assert page.locator("form[method=post][action='/admin/users']").count() == 0  # read-only for finance


def test_a_user_reads_their_history_and_why_a_job_cost_what_it_did(site):
    with web_browser() as browser:
        page = browser.page
        log_in(page, site.url, "bob")
        page.wait_for_url("**/me/jobs")
        browser.screenshots("user-jobs")
        page.goto(site.url + "/me/history")
        rows = page.locator("tbody tr")
        assert rows.count() == 7
        browser.screenshots("user-history")
        page.goto(site.url + f"/me/history/{site.mono_job}")
        text = page.inner_text("main")
        assert "printed in black and white" in text and "posters-mono" in text
        assert "4 black-and-white" in text or "0 colour, 4 black-and-white" in text
        browser.screenshots("user-price-breakdown")
        assert browser.overflow() == 0


def test_a_user_releases_a_held_job_to_a_printer_from_the_browser(site):
    job = site.bob_jobs[0]
    with web_browser("phone") as browser:
        page = browser.page
        log_in(page, site.url, "bob")
        page.wait_for_url("**/me/jobs")
        page.locator(f"form[action='/me/jobs/{job}/release'] button").click()
        assert "Sent to the printer" in page.inner_text(".flash")
        received = site.printer.wait_for_jobs(1)
        assert received[0].complete
        assert site.core.jobs.get_job(job).state == "released"


def test_single_sign_on_through_the_real_provider_in_the_browser(site):
    with web_browser() as browser:
        page = browser.page
        page.goto(site.url + "/login")
        browser.screenshots("login")
        page.click("text=Log in with single sign-on")
        page.wait_for_selector("input[name=login]")
        page.fill("input[name=login]", "bob")
        page.fill("input[name=password]", "anything")
        with page.expect_navigation():
            page.click("button[type=submit]")
        for _ in range(3):  # the provider's consent screen, then back to us
            if page.url.startswith(site.url):
                break
            with page.expect_navigation():
                page.click("button[type=submit]")
        page.wait_for_url("**/me/jobs")
        assert "Bob User" in page.inner_text("header")
