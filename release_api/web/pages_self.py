"""The start page, and a person's own pages: held jobs (release to a printer of their choice, delete), their
history with the price of each job taken apart, their balance and ledger, their cards
(link one with their password) and their PIN."""
from __future__ import annotations

from twisted.internet import defer

from release_api.web.app import Call, NotFound, Redirect
from release_api.web.routing import PUBLIC, SIGNED_IN, route


def job_number(text) -> int:
    if not str(text).isdigit() or len(str(text)) > 12:
        raise NotFound(f"no job {text!r}")
    return int(text)


class SelfServicePages:
    @route("/", access=PUBLIC)
    def home(self, call: Call):
        """Signed in: one's own start page. Anyone else (a person who typed the gateway's
        address, a browser that is not a printer's panel): a plain page saying what this
        server is and where to log in. It shows nothing of anyone's data."""
        if call.session is None or not call.session.signed_in:
            return self.page(call, "welcome.html")
        roles = call.user.roles
        return Redirect("/admin/" if "admin" in roles else "/finance/" if "finance" in roles else "/me/jobs")

    @route("/me/jobs", access=SIGNED_IN)
    @defer.inlineCallbacks
    def my_jobs(self, call: Call):
        jobs = yield defer.maybeDeferred(self.self_service.held_jobs, call.actor)
        printers = yield defer.maybeDeferred(self.self_service.printers)
        return self.page(call, "me_jobs.html", jobs=list(jobs), printers=list(printers))

    @route("/me/jobs/<int:job_id>/release", "POST", access=SIGNED_IN)
    @defer.inlineCallbacks
    def release_mine(self, call: Call, job_id: int):
        answer = yield defer.maybeDeferred(self.self_service.release_job, call.actor, job_id,
                                           call.field("printer", limit=127))
        call.session.flash = ("Sent to the printer." if answer.printed else answer.message) or "Done."
        return Redirect("/me/jobs")

    @route("/me/jobs/<int:job_id>/delete", "POST", access=SIGNED_IN)
    @defer.inlineCallbacks
    def delete_mine(self, call: Call, job_id: int):
        yield defer.maybeDeferred(self.self_service.delete_job, call.actor, job_id)
        call.session.flash = "Job deleted."
        return Redirect("/me/jobs")

    @route("/me/history", access=SIGNED_IN)
    @defer.inlineCallbacks
    def my_history(self, call: Call):
        page = yield defer.maybeDeferred(self.self_service.history, call.actor, after=call.arg("after", limit=512),
                                         before=call.arg("before", limit=512))
        return self.page(call, "me_history.html", page=page, filters={})

    @route("/me/history/<job_id>", access=SIGNED_IN)
    @defer.inlineCallbacks
    def my_job(self, call: Call, job_id: str):
        job, explanation = yield defer.maybeDeferred(self.self_service.job_price, call.actor, job_number(job_id))
        return self.page(call, "job_price.html", job=job, why=explanation, back="/me/history")

    @route("/me/money", access=SIGNED_IN)
    @defer.inlineCallbacks
    def my_money(self, call: Call):
        account, currency, page = yield defer.maybeDeferred(
            self.self_service.money, call.actor, after=call.arg("after", limit=512),
            before=call.arg("before", limit=512))
        return self.page(call, "me_money.html", account=account, currency=currency, page=page, filters={})

    @route("/me/cards", access=SIGNED_IN)
    @defer.inlineCallbacks
    def my_cards(self, call: Call):
        cards = yield defer.maybeDeferred(self.self_service.cards, call.actor)
        return self.page(call, "me_cards.html", cards=list(cards))

    @route("/me/cards", "POST", access=SIGNED_IN)
    @defer.inlineCallbacks
    def link_my_card(self, call: Call):
        yield defer.maybeDeferred(self.self_service.link_card, call.actor,
                                  call.field("password", limit=1024, strip=False), call.field("card", limit=64),
                                  address=call.address)
        call.session.flash = "Card linked: it logs you in at the printers from now on."
        return Redirect("/me/cards")

    @route("/me/pin", "POST", access=SIGNED_IN)
    @defer.inlineCallbacks
    def change_my_pin(self, call: Call):
        pin = call.field("pin", limit=12)
        if pin != call.field("pin_again", limit=12):
            raise ValueError("the two PINs differ")
        yield defer.maybeDeferred(self.self_service.change_pin, call.actor,
                                  call.field("password", limit=1024, strip=False), pin, address=call.address)
        call.session.flash = "PIN changed."
        return Redirect("/me/cards")
