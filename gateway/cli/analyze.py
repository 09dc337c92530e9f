"""``printgate analyze [--json] FILE...``: what the page analyzer says about spool files."""
from __future__ import annotations

# Imports inside functions: each command loads only what it uses, so that `printgate --help`
# and a quick read command start fast (accounting and Twisted take most of a second to import).

import json
import sys

FIELDS = ("pdl", "pages", "copies", "impressions", "sheets", "duplex", "color_pages", "mono_pages", "media",
          "media_impressions", "method", "warnings")


def register(subparsers) -> None:
    parser = subparsers.add_parser("analyze", help="count pages, copies, duplex and color of print files")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--no-interpret", action="store_true",
                        help="never run Ghostscript (PostScript without trustworthy DSC stays uncounted, "
                             "PostScript/PDF colour unknown)")
    parser.add_argument("--no-colour", "--no-color", dest="no_colour", action="store_true",
                        help="do not render PostScript/PDF pages for colour (color_pages/mono_pages unknown)")
    parser.add_argument("files", nargs="+")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from spooler.pdl import Analyzer, AnalyzerError
    from spooler.pdl.reference import analyze_path

    status = 0
    for path in args.files:
        try:
            facts = analyze_path(path, analyzer_class=Analyzer, interpret=not args.no_interpret,
                                 colour=not (args.no_interpret or args.no_colour))
        except (OSError, AnalyzerError) as exc:
            print(f"{path}: error: {exc}", file=sys.stderr)
            status = 1
            continue
        row = {"path": path, **{name: getattr(facts, name) for name in FIELDS}}
        if args.json:
            print(json.dumps(row, sort_keys=False))
        else:
            print(" ".join(f"{k}={v}" for k, v in row.items()))
    return status
