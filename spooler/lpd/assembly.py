"""One LPD receive-job in progress: its control file and its data files, which may
arrive in either order, put together into held jobs (one per data file).

Data files wait for their control file, so what one connection may make the gateway hold
is bounded: ``MAX_DATA_FILES`` per job (RFC 1179 names them ``dfA`` to ``dfz``: 52), and
``MAX_MEMORY_PER_CONNECTION`` bytes of them in memory (a small data file's bytes stay in
memory until the job is recorded). Past either the client gets a negative
acknowledgement and the connection is closed, with nothing kept.
"""
from __future__ import annotations

from dataclasses import replace

from spooler.intake import IntakePipeline, JobMetadata, JobReceiver
from spooler.lpd.controlfile import FORMAT_NAMES, ControlFile
from spooler.lpd.errors import ConnectionMemoryExceeded, TooManyDataFiles

MAX_DATA_FILES = 52
MAX_MEMORY_PER_CONNECTION = 32 * 1024 * 1024


class JobAssembly:
    def __init__(self, intake: IntakePipeline, *, queue: str, host: str):
        self.intake = intake
        self.queue = queue
        self.host = host
        self.control: ControlFile | None = None
        self.receivers: dict[str, JobReceiver] = {}
        self.complete: set[str] = set()
        self.current: JobReceiver | None = None

    def start_data_file(self, name: str) -> JobReceiver:
        if name in self.receivers:
            self.receivers.pop(name).abort("data file sent again")
            self.complete.discard(name)
        if len(self.receivers) >= MAX_DATA_FILES:
            raise TooManyDataFiles(f"more than {MAX_DATA_FILES} data files in one job")
        held = self.in_memory
        if held > MAX_MEMORY_PER_CONNECTION:
            raise ConnectionMemoryExceeded(f"{held} bytes of data files waiting in memory "
                                           f"(limit {MAX_MEMORY_PER_CONNECTION})")
        receiver = self.intake.begin(JobMetadata(protocol="lpd", host=self.host, queue=self.queue))
        self.receivers[name] = receiver
        self.current = receiver
        return receiver

    @property
    def in_memory(self) -> int:
        return sum(receiver.in_memory for receiver in self.receivers.values())

    def data_file_complete(self, name: str) -> None:
        self.complete.add(name)
        self.current = None

    def ready(self) -> bool:
        """The control file is here and so is every data file it names."""
        if self.control is None or not self.control.data_files:
            return False
        return all(name in self.complete for name in self.control.data_files)

    def commit(self):
        """Commit the named data files as one unit; discard the rest."""
        control = self.control
        chosen = []
        for name, receiver in list(self.receivers.items()):
            if name not in control.copies:
                receiver.abort(f"data file {name} is not named in the control file")
                continue
            receiver.metadata = replace(
                receiver.metadata,
                user=control.user or None,
                title=control.title_for(name),
                copies=control.copies[name],
                document_format=FORMAT_NAMES.get(control.formats[name], "application/octet-stream"),
                client_job_ref=name,
                attributes={
                    "lpd_host": control.host, "lpd_class": control.class_name, "lpd_format": control.formats[name],
                    "lpd_banner": control.banner_user, "lpd_mail": control.mail_to,
                    "source_name": control.source_names.get(name, ""),
                },
            )
            chosen.append(receiver)
        self.receivers.clear()
        self.complete.clear()
        self.control = None
        return self.intake.commit_together(chosen)

    def abort(self, reason: str) -> None:
        for receiver in self.receivers.values():
            receiver.abort(reason)
        self.receivers.clear()
        self.complete.clear()
        self.control = None
        self.current = None
