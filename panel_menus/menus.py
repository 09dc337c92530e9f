"""What the panel offers, independent of how it looks: the screen sizes printers have,
the login menu, the PIN pad keys and the job-list actions. Templates read these; the web
layer validates submitted values against them."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScreenSize:
    """A panel's CSS viewport. ``density`` picks type and target sizes in the stylesheet."""

    name: str
    width: int
    height: int
    density: str

    @property
    def css_class(self) -> str:
        return f"screen-{self.density}"


SCREEN_SIZES = {
    "480x272": ScreenSize("480x272", 480, 272, "compact"),
    "800x480": ScreenSize("800x480", 800, 480, "regular"),
    "1024x600": ScreenSize("1024x600", 1024, 600, "roomy"),
}
DEFAULT_SCREEN = "800x480"


@dataclass(frozen=True)
class MenuItem:
    key: str
    label: str
    href: str
    hint: str = ""


LOGIN_MENU = (
    MenuItem("pin", "PIN", "/panel/pin", "Your number, then your PIN"),
    MenuItem("password", "Username", "/panel/password", "Username and password"),
)

#: The PIN pad, row by row. Digits add to the user number, then (after OK) to the PIN;
#: ``clear`` starts again and ``back`` deletes a digit (from an empty PIN: back to the number).
PIN_PAD = (("1", "2", "3"), ("4", "5", "6"), ("7", "8", "9"), ("clear", "0", "back"))
PIN_KEY_LABELS = {"clear": "Clear", "back": "⌫"}
#: ``printgate users set-pin`` takes 4 to 12 digits; the pad takes as many, whatever the
#: length, because the number and the PIN are typed in two steps (nothing to split).
PIN_MAX_DIGITS = 12
#: User numbers are database ids (``printgate users list``).
USER_NUMBER_MAX_DIGITS = 10


@dataclass(frozen=True)
class JobAction:
    key: str
    label: str
    needs_selection: bool
    style: str  # primary | secondary | danger


JOB_ACTIONS = (
    JobAction("release", "Print selected", True, "primary"),
    JobAction("release_all", "Print all", False, "secondary"),
    JobAction("delete", "Delete selected", True, "danger"),
)
JOB_ACTION_KEYS = frozenset(a.key for a in JOB_ACTIONS)

#: Seconds without activity before the panel logs the user out.
IDLE_LOGOUT_SECONDS = 60
