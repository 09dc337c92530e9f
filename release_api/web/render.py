"""Jinja2 for the web pages: autoescaping on for every template, undefined names are
errors, and a few filters (money, local time, page links). Templates live in
``release_api/web/templates``, the one stylesheet in ``release_api/web/static``; nothing
is loaded from anywhere else (no external fonts, scripts or styles)."""
from __future__ import annotations

import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from accounting.money import format_amount

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def page_link(path: str, filters: dict, **cursor) -> str:
    """``path?filters&after=...``: the filters kept, empty ones dropped."""
    values = {k: v for k, v in {**filters, **cursor}.items() if v not in (None, "", False)}
    return f"{path}?{urlencode(values)}" if values else path


class WebRenderer:
    def __init__(self, *, templates: Path = TEMPLATES, timezone: str = "UTC"):
        self.zone = ZoneInfo(timezone)
        self.env = Environment(
            loader=FileSystemLoader(str(templates)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["money"] = lambda minor, currency="": "" if minor is None else format_amount(minor, currency)
        self.env.filters["milli"] = lambda milli: f"{milli / 1000:.3f}".rstrip("0").rstrip(".")
        self.env.filters["when"] = self.local_time
        self.env.globals["page_link"] = page_link

    def local_time(self, value: datetime.datetime | None) -> str:
        if value is None:
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def render(self, template: str, **context) -> str:
        context.setdefault("flash", "")
        context.setdefault("flash_kind", "ok")
        context.setdefault("path", "/")
        return self.env.get_template(template).render(**context)


def stylesheet() -> bytes:
    return (STATIC / "web.css").read_bytes()
