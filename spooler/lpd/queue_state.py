"""The text answer to LPD queue-state requests (commands 03 short and 04 long), in the
shape BSD ``lpq`` prints, so people reading it see what they expect."""
from __future__ import annotations

from dataclasses import replace


def _number(item: str) -> bool:
    return item.isascii() and item.isdigit() and len(item) <= 18


def select_jobs(jobs, items):
    """Keep the jobs the request names (job numbers or user names); all when none."""
    if not items:
        return list(jobs)
    numbers = {int(item) for item in items if _number(item)}
    users = {item for item in items if not _number(item)}
    return [job for job in jobs if job.id in numbers or job.owner in users]


def _rank(position: int) -> str:
    number = position + 1
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


#: What a listing shows instead of the title of a job the asker may not see.
PRIVATE_TITLE = "(private)"


def format_queue_state(queue: str, jobs, *, long: bool, items=(), visible=lambda job: True) -> bytes:
    """``visible(job)``: whether the asker sees the job's title (``spooler.job_access``);
    the others are listed as ``PRIVATE_TITLE``."""
    jobs = [job if visible(job) else _untitled(job) for job in select_jobs(jobs, items)]
    if not jobs:
        return f"{queue}: no held jobs\n".encode()
    lines = [f"{queue}: {len(jobs)} held job(s)"]
    if long:
        for position, job in enumerate(jobs):
            lines.append("")
            lines.append(f"{job.owner}: {_rank(position)}{' ' * 24}[job {job.id} {job.source_host}]")
            pages = f", {job.pages} pages" if job.pages is not None else ""
            lines.append(f"        {job.title or '(untitled)':<40} {job.size} bytes{pages} [{job.state}]")
    else:
        lines.append(f"{'Rank':<7}{'Owner':<11}{'Job':<5}{'Files':<38}Total Size")
        for position, job in enumerate(jobs):
            title = (job.title or "(untitled)")[:37]
            lines.append(f"{_rank(position):<7}{job.owner[:10]:<11}{job.id:<5}{title:<38}{job.size} bytes")
    return ("\n".join(lines) + "\n").encode("utf-8", "replace")


def _untitled(job):
    return replace(job, title=PRIVATE_TITLE)
