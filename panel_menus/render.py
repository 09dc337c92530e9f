"""Render a panel screen from plain dataclasses/dicts for one screen size.

``PanelRenderer().render("jobs", "800x480", user=..., jobs=[...])`` returns HTML. Jinja2
autoescapes everything; templates only read what they are given (no calls back into
services). ``stylesheet()`` is the one static asset, served by the web layer.
"""
from __future__ import annotations

import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from panel_menus import menus

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

SCREENS = {
    "idle": "idle.html",
    "pin": "pin.html",
    "password": "password.html",
    "link_card": "link_card.html",
    "jobs": "jobs.html",
    "result": "result.html",
    "error": "error.html",
    "logged_out": "logged_out.html",
    "confirm": "confirm.html",
    "unclaimed": "unclaimed.html",
}

#: Minor units per currency; ISO 4217 exponents of the currencies we expect, 2 otherwise.
CURRENCY_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3}
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}


def format_money(minor: int, currency: str) -> str:
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    sign = "-" if minor < 0 else ""
    units, rest = divmod(abs(int(minor)), 10 ** exponent)
    amount = f"{units:,}" + (f".{rest:0{exponent}d}" if exponent else "")
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def format_time(value: datetime.datetime | None, now: datetime.datetime | None = None) -> str:
    if value is None:
        return ""
    now = now or datetime.datetime.now(value.tzinfo)
    if value.date() == now.date():
        return value.strftime("%H:%M")
    return value.strftime("%d %b %H:%M")


class UnknownScreen(LookupError):
    pass


class PanelRenderer:
    def __init__(self, *, templates: Path = TEMPLATES):
        self.env = Environment(
            loader=FileSystemLoader(str(templates)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["money"] = lambda minor, currency: format_money(minor, currency)
        self.env.filters["clock"] = format_time
        self.env.globals.update(menus=menus)

    def render(self, screen: str, size: str, **context) -> str:
        if screen not in SCREENS:
            raise UnknownScreen(screen)
        screen_size = menus.SCREEN_SIZES.get(size) or menus.SCREEN_SIZES[menus.DEFAULT_SCREEN]
        context.setdefault("user", None)
        context.setdefault("balance", None)
        context.setdefault("device", None)
        context.setdefault("csrf", "")
        context.setdefault("message", "")
        context.setdefault("unclaimed_count", 0)
        context.setdefault("needs_account", False)
        context.setdefault("accounts", [])
        context.setdefault("idle_logout", menus.IDLE_LOGOUT_SECONDS)
        return self.env.get_template(SCREENS[screen]).render(screen=screen_size, screen_name=screen, **context)


def stylesheet() -> bytes:
    return (STATIC / "panel.css").read_bytes()
