"""Release = forward: send a held job's bytes to a printer over LPD, RAW or IPP.

Public API: ``Forwarder`` (retries, outcome), ``PrinterTarget``, ``ForwardJob``,
``ForcedChanges``, ``ForwardOutcome``, ``register_sender`` (the IPP sender, ``ipp_sender.send_ipp``, is registered on import), and the
sans-IO ``ForcedSettingsTransform``.
"""
from spooler.forward.capabilities import PrinterCapabilities
from spooler.forward.errors import (
    BadTarget, ConnectionLostMidway, DocumentFormatUnsupported, ForwardError, ForwardTimeout, InjectionError,
    PrinterNotTrusted, PrinterRefusedJob, PrinterUnreachable, SourceChanged, UnsupportedProtocol,
)
from spooler.forward.forwarder import (
    SENDERS, Forwarder, RetryPolicy, SendContext, Sender, Timeouts, register_sender,
)
from spooler.forward.inject import ForcedSettingsTransform
from spooler.forward.ipp_sender import send_ipp
from spooler.forward.job import (
    AttemptResult, ForcedChanges, ForwardJob, ForwardOutcome, PrinterTarget, PrinterTrust, normalize_fingerprint,
)
from spooler.forward.lpd_client import LpdTimeouts
from spooler.forward.raw_client import RawTimeouts

register_sender("ipp", send_ipp)

__all__ = [
    "AttemptResult", "BadTarget", "ConnectionLostMidway", "DocumentFormatUnsupported", "ForcedChanges",
    "ForcedSettingsTransform", "ForwardError", "ForwardJob", "ForwardOutcome", "ForwardTimeout", "Forwarder",
    "InjectionError", "LpdTimeouts", "PrinterCapabilities", "PrinterNotTrusted", "PrinterRefusedJob",
    "PrinterTarget", "PrinterTrust", "PrinterUnreachable", "RawTimeouts", "RetryPolicy", "SENDERS",
    "SendContext", "Sender", "SourceChanged", "Timeouts", "UnsupportedProtocol", "normalize_fingerprint",
    "register_sender",
]
