"""The job store: facts that arrive after a job was recorded (its analysis ran once it was
stored), and the jobs still waiting for theirs."""
from tests.accounting.conftest import new_job


def test_facts_found_after_storing_replace_the_scanned_ones_and_make_the_job_releasable(core):
    job = new_job(pages=None)
    job.analysis_pending = True
    [held] = core.jobs.record_jobs([job])
    assert [j.id for j in core.jobs.pending_analysis()] == [held.id] and held.analysis_pending
    core.jobs.record_facts(held.id, {"pdl": "postscript", "pages": 7, "copies": 2, "impressions": 14,
                                     "method": "interpreted"}, price_estimate=140)
    after = core.jobs.get_job(held.id)
    assert (after.pages, after.copies, after.impressions, after.price_estimate, after.analysis_pending) == (
        7, 2, 14, 140, False)
    assert core.jobs.pending_analysis() == []
