"""How much of the gateway one IPP client may hold: connections and time.

A slow or hostile client must not pin connections open by sending a request a byte at a
time (slowloris), by never finishing its head, or by dribbling a body. The IPP listeners
(port 631 and ipps:// on the HTTPS port, counted together) enforce:

- at most ``max_connections`` connections, and ``max_per_address`` from one address;
- ``idle_timeout`` seconds of silence after connecting or between keep-alive requests;
- ``head_timeout`` seconds from the first byte of a request head to its end;
- in each window of ``body_window`` seconds while a body arrives, at least
  ``min_body_rate`` bytes per second (windows in which the gateway itself paused reading
  do not count against the client).

``[ipp]`` in the configuration file overrides the defaults; ``idle_timeout`` defaults to
``[server] idle_timeout``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from spooler.config import ConfigError

__all__ = ["ConnectionLimits", "limits_from_config"]


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 1024
    max_per_address: int = 64
    idle_timeout: float = 60.0
    head_timeout: float = 20.0
    body_window: float = 30.0
    min_body_rate: int = 512


_INTEGERS = ("max_connections", "max_per_address", "min_body_rate")


def limits_from_config(config) -> ConnectionLimits:
    """The limits for ``config`` (a ``GatewayConfig``); ``ConfigError`` names a bad key."""
    limits = ConnectionLimits(idle_timeout=float(config.idle_timeout))
    section = dict(config.ipp or {})
    known = {f.name for f in fields(ConnectionLimits)}
    changes = {}
    for key, value in section.items():
        if key not in known:
            raise ConfigError(f"ipp.{key} is not a setting (known: {', '.join(sorted(known))})", key=f"ipp.{key}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"ipp.{key} must be a positive number", key=f"ipp.{key}")
        if key in _INTEGERS and not isinstance(value, int):
            raise ConfigError(f"ipp.{key} must be a whole number", key=f"ipp.{key}")
        changes[key] = value if key in _INTEGERS else float(value)
    return replace(limits, **changes)
