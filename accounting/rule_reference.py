"""Every rule condition and action, what it means and an example: the text of
``printgate rules add --help`` and of the README's rule table (a test checks that both
name every condition and action ``accounting.rules`` knows).

Plain data, no database import: the command line builds its help from it on every call.
"""
from __future__ import annotations

#: condition -> (what it tests, an example ``--when`` fragment)
CONDITIONS = {
    "users": ("the job's owner is one of these usernames", '{"users": ["alice", "bob"]}'),
    "groups": ("the owner is in any of these groups", '{"groups": ["students"]}'),
    "queues": ("the job came to one of these queues", '{"queues": ["secure"]}'),
    "device_classes": ("the queue's (or route's) device class is one of these", '{"device_classes": ["a3-colour"]}'),
    "pages": ("pages of one copy, inclusive range", '{"pages": {"min": 50}}'),
    "copies": ("copies asked for", '{"copies": {"min": 10}}'),
    "impressions": ("printed sides over all copies", '{"impressions": {"max": 500}}'),
    "sheets": ("sheets of paper over all copies", '{"sheets": {"min": 100}}'),
    "color_pages": ("colour pages of one copy", '{"color_pages": {"min": 1}}'),
    "cost": ("the price in minor units (cents), after earlier rules' changes", '{"cost": {"min": 500}}'),
    "duplex": ("the job prints two-sided (true) or one-sided (false)", '{"duplex": false}'),
    "color": ("the job has any colour (true) or none (false)", '{"color": true}'),
    "media": ("media size is one of these", '{"media": ["A3"]}'),
    "document": ("the document name matches this shell pattern, any case", '{"document": "*.xlsx"}'),
    "languages": ("the page description language is one of these (pdf, postscript, pcl5, pclxl, text)",
                  '{"languages": ["pcl5", "pclxl"]}'),
    "source_hosts": ("the sending host matches any of these shell patterns", '{"source_hosts": ["10.1.*"]}'),
    "hours": ("the time of day is in this range, in [server] timezone (may wrap past midnight)",
              '{"hours": "18:00-07:00"}'),
    "weekdays": ("the day, in [server] timezone, is one of these (mon ... sun)", '{"weekdays": ["sat", "sun"]}'),
    "available": ("money the owner may still spend (balance - reserved + overdraft), minor units",
                  '{"available": {"max": 0}}'),
    "quota_left": ("the owner's personal balance, minor units", '{"quota_left": {"max": 100}}'),
}

#: action -> (what it does, an example ``printgate rules add`` command)
ACTIONS = {
    "allow": ("accept the job; no later rule is tried", "printgate rules add staff-ok --action allow "
                                                         "--when '{\"groups\": [\"staff\"]}'"),
    "deny": ("refuse the job with --message; no later rule is tried",
             "printgate rules add no-huge --action deny --when '{\"pages\": {\"min\": 500}}' "
             "--message 'Jobs over 500 pages go to the print room.'"),
    "hold-confirm": ("hold the job until its owner confirms the price at the printer",
                     "printgate rules add confirm-dear --action hold-confirm --when '{\"cost\": {\"min\": 1000}}'"),
    "force-mono": ("print in black and white (priced so)",
                   "printgate rules add mail-mono --action force-mono --when '{\"document\": \"*.eml\"}'"),
    "force-duplex": ("print two-sided (priced so)",
                     "printgate rules add duplex-long --action force-duplex --when '{\"pages\": {\"min\": 10}}'"),
    "cap-copies": ("print at most --copies copies",
                   "printgate rules add five-max --action cap-copies --copies 5"),
    "notify": ("send --message to --to (owner, an address or a webhook URL) once the job is held",
               "printgate rules add tell-it --action notify --when '{\"cost\": {\"min\": 2000}}' "
               "--to it@example.org"),
    "require-shared-account": ("the owner must charge a shared account (chosen at the printer)",
                               "printgate rules add clients --action require-shared-account "
                               "--when '{\"groups\": [\"lawyers\"]}'"),
    "route": ("mark the job for printers of --device-class (kept with the decision; not yet enforced at release)",
              "printgate rules add big-to-a3 --action route --when '{\"media\": [\"A3\"]}' --device-class a3"),
}

#: Tokens a --message may use.
MESSAGE_FIELDS = ("{user}", "{pages}", "{copies}", "{price}", "{rule}", "{document}")


def help_text() -> str:
    """The reference as ``printgate rules add --help`` prints it."""
    width = max(map(len, CONDITIONS))
    lines = ["conditions (--when, a JSON object; all given must hold, a list means any of):"]
    for name, (meaning, example) in CONDITIONS.items():
        lines.append(f"  {name:<{width}}  {meaning}")
        lines.append(f"  {'':<{width}}  e.g. {example}")
    lines.append("")
    lines.append("actions (--action; rules are tried in order, the first allow/deny/hold-confirm decides, "
                 "the others add their effect and go on):")
    width = max(map(len, ACTIONS))
    for name, (meaning, example) in ACTIONS.items():
        lines.append(f"  {name:<{width}}  {meaning}")
        lines.append(f"  {'':<{width}}  e.g. {example}")
    lines.append("")
    lines.append(f"--message may use {', '.join(MESSAGE_FIELDS)}.")
    return "\n".join(lines)
