"""Writing a report somewhere: to a file under a temporary name in the same directory,
fsynced and renamed into place only when complete (a failed or interrupted export leaves
no half-written file under the name asked for), or to a stream."""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

from gateway.reports.csv_export import write_csv
from gateway.reports.json_export import write_json
from gateway.reports.pdf_export import write_pdf
from gateway.reports.xlsx_export import write_xlsx

FORMATS = ("csv", "xlsx", "pdf", "json")
SUFFIXES = {"csv": ".csv", "xlsx": ".xlsx", "pdf": ".pdf", "json": ".json"}


def _write(table, fmt: str, path: Path, *, bom: bool, progress) -> None:
    if fmt == "csv":
        with open(path, "w", encoding="utf-8", newline="") as stream:
            write_csv(table, stream, bom=bom, progress=progress)
    elif fmt == "json":
        with open(path, "w", encoding="utf-8") as stream:
            write_json(table, stream, progress=progress)
    elif fmt == "xlsx":
        write_xlsx(table, path, progress=progress)
    elif fmt == "pdf":
        write_pdf(table, path, progress=progress)
    else:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def write_report_file(table, fmt: str, target, *, bom: bool = False, progress=None) -> Path:
    """Write ``table`` in ``fmt`` to ``target`` atomically; returns ``target``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    target = Path(target)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(descriptor)
    temporary = Path(temporary)
    try:
        _write(table, fmt, temporary, bom=bom, progress=progress)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o640)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return target


def write_report_stream(table, fmt: str, binary_stream, *, bom: bool = False, progress=None,
                        scratch=None) -> None:
    """Write ``table`` to ``binary_stream`` (standard output, a web download's file). CSV
    and JSON stream as they are made; XLSX and PDF are built in a temporary file first
    (both formats are written whole, not as a stream), in ``scratch`` when given (a
    directory on disk, where the system's temporary directory may be memory), and then
    copied."""
    if fmt in ("csv", "json"):
        text = io.TextIOWrapper(binary_stream, encoding="utf-8", newline="" if fmt == "csv" else None,
                                write_through=False)
        try:
            if fmt == "csv":
                write_csv(table, text, bom=bom, progress=progress)
            else:
                write_json(table, text, progress=progress)
            text.flush()
        finally:
            text.detach()
        return
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    with tempfile.TemporaryDirectory(prefix="printgate-report-", dir=scratch) as directory:
        path = Path(directory) / f"report{SUFFIXES.get(fmt, '')}"
        _write(table, fmt, path, bom=bom, progress=progress)
        with open(path, "rb") as handle:
            shutil.copyfileobj(handle, binary_stream)
    binary_stream.flush()
