"""What the release asks the printer for is what the job was charged for (issue 14.1),
and a document repeated N times goes once with copies=N (14.2, release side)."""
from __future__ import annotations

from tests.gateway.release_world import DOCUMENT, hold, result_of, world  # noqa: F401 (fixture)


def release(world, job_id, name="mfp-colour"):
    return result_of(world.releases.release(job_id, name, actor="alice", owner="alice"))


def charged(world, job_id) -> int:
    return -sum(e.amount for e in world.core.ledger.entries_for_job(job_id) if e.kind == "charge")


def test_a_document_repeated_n_times_is_sent_once_asking_for_n_times_the_copies_requested(world):
    one_copy = DOCUMENT
    job_id = hold(world, document=one_copy * 3, facts={"copies": 3, "impressions": 6, "sheets": 6, "copy_length": len(one_copy)},
                  copies_requested=2)
    assert release(world, job_id).printed
    [sent] = world.sender.jobs
    [(_, data, _)] = world.sender.sent
    assert data == one_copy
    assert sent.copies == 6
    assert charged(world, job_id) == 2 * 6 * 20  # 2 colour sides a copy at 0.20, six copies


def test_a_repeated_document_whose_copies_a_printer_cannot_be_asked_for_is_sent_whole(world):
    one_copy = DOCUMENT
    world.core.ledger.topup("alice", 50_000, actor="test")
    job_id = hold(world, document=one_copy * 3, facts={"copies": 3, "impressions": 6, "sheets": 6,
                                                       "copy_length": len(one_copy)}, copies_requested=400)
    assert release(world, job_id).printed
    [sent] = world.sender.jobs
    [(_, data, _)] = world.sender.sent
    assert data == one_copy * 3 and sent.copies == 400 and sent.copy_length is None
    assert charged(world, job_id) == 2 * 1200 * 20  # what the printer makes: 3 x 400 copies


def test_a_job_that_is_not_a_repetition_is_sent_whole(world):
    job_id = hold(world, copies_requested=2)
    release(world, job_id)
    [sent] = world.sender.jobs
    [(_, data, _)] = world.sender.sent
    assert data == DOCUMENT and sent.copies == 2 and sent.copy_length is None


def test_the_clients_sides_and_grey_printing_are_asked_for_as_charged(world):
    job_id = hold(world, sides="two-sided-short-edge", color_mode="monochrome")
    release(world, job_id)
    [sent] = world.sender.jobs
    assert (sent.sides, sent.color_mode, sent.media) == ("two-sided-short-edge", "monochrome", "A4")
    assert sent.forced.duplex and sent.forced.binding == "SHORTEDGE"  # the bytes do not say two-sided
    assert sent.forced.mono  # the job has colour, the printer prints colour, grey was charged
    assert charged(world, job_id) == 2 * 5  # two mono sides at 0.05 (no duplex discount in this list)


def test_a_colour_job_at_a_mono_printer_needs_no_forcing_to_print_grey(world):
    job_id = hold(world)
    release(world, job_id, "mfp-mono")
    [sent] = world.sender.jobs
    assert sent.color_mode == "monochrome" and not sent.forced.mono


def test_two_sided_asked_by_the_client_is_not_charged_at_a_one_sided_printer(world):
    job_id = hold(world, sides="two-sided-long-edge", color_pages=0)
    [listed] = result_of(world.services.list_held_jobs(
        result_of(world.services.authenticate_card("04a1b2c3", result_of(world.services.describe_device("mfp-mono")))),
        result_of(world.services.describe_device("mfp-mono"))))
    assert not listed.duplex
    release(world, job_id, "mfp-mono")
    [sent] = world.sender.jobs
    assert sent.sides == "one-sided" and not sent.forced.duplex


def test_a_document_that_asks_for_two_sided_itself_is_not_forced(world):
    job_id = hold(world, facts={"duplex": True, "sheets": 1}, sides="two-sided-long-edge")
    release(world, job_id)
    [sent] = world.sender.jobs
    assert sent.sides == "two-sided-long-edge" and not sent.forced.duplex


class SilentPrinter:
    """Capabilities of a printer that takes connections and never answers."""

    def __init__(self):
        self.asked = 0

    def document_formats(self, target):
        from twisted.internet import defer

        self.asked += 1
        return defer.Deferred()


def test_a_printer_that_does_not_say_what_it_prints_does_not_hold_up_the_panel(world):
    from spooler.forward import PrinterTarget

    job_id = hold(world)
    world.releases.forwarder.capabilities = SilentPrinter()
    target = PrinterTarget("ipp", "10.0.0.5", 631)
    waiting = world.releases.printability([world.core.jobs.get_job(job_id)], target)
    seen = []
    waiting.addBoth(seen.append)
    assert seen == []
    world.releases.reactor.advance(world.releases.capabilities_wait)
    assert seen == [{}]  # no note: the release will try, and charge only what the printer took
