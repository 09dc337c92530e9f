"""What a job is called where people see it (the panel, ``printgate jobs list``).

The title the client gave, else the name of its document (LPD's N line), else the job
name in its PJL, else what kind of document it is, from where and when — never only a
number: "Job 6" tells the person at the printer nothing about which job is theirs.
"""
from __future__ import annotations

LANGUAGE_NAMES = {"pdf": "PDF", "postscript": "PostScript", "pcl5": "PCL", "pclxl": "PCL XL", "text": "Text",
                  "pjl": "PJL"}


def display_title(job) -> str:
    """``job``: a ``HeldJob`` (or anything with its ``title``, ``attributes``, ``facts``,
    ``pdl``, ``source_host`` and ``received_at``)."""
    if job.title:
        return job.title
    name = (job.attributes or {}).get("source_name") or (job.facts or {}).get("job_name")
    if name:
        return str(name)
    kind = LANGUAGE_NAMES.get(job.pdl or "", "Document")
    return f"{kind} from {job.source_host}, {job.received_at:%Y-%m-%d %H:%M} UTC"
