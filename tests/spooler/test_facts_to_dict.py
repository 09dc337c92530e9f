"""``JobFacts.to_dict`` is written out by hand for speed; it must stay what asdict gives."""
from dataclasses import asdict, fields

from spooler.pdl.facts import JobFacts


def test_to_dict_has_every_field_and_the_same_values_as_asdict():
    facts = JobFacts(pdl="pcl5", languages=["pjl", "pcl5"], pages=3, copies=2, impressions=6, sheets=6,
                     duplex=False, color_pages=1, mono_pages=2, media=["a4"], media_impressions={"a4": 6},
                     pjl={"JOBNAME": "x"}, job_name="x", user_name="alice", method="scan", warnings=["w"])
    assert facts.to_dict() == asdict(facts)
    assert set(facts.to_dict()) == {f.name for f in fields(JobFacts)}


def test_to_dict_copies_the_containers():
    facts = JobFacts(languages=["pjl"])
    facts.to_dict()["languages"].append("pcl5")
    assert facts.languages == ["pjl"]
