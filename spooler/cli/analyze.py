"""``printgate analyze [--json] FILE...``: what the page analyzer says about spool files."""
from __future__ import annotations

import json
import sys

FIELDS = ("pdl", "pages", "copies", "impressions", "sheets", "duplex", "color_pages", "mono_pages", "media",
          "media_impressions", "method", "warnings")


def register(subparsers) -> None:
    parser = subparsers.add_parser("analyze", help="count pages, copies, duplex and color of print files")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--no-interpret", action="store_true",
                        help="never run Ghostscript (PostScript without trustworthy DSC stays uncounted)")
    parser.add_argument("files", nargs="+")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from spooler.pdl import AnalyzerError, analyze_path

    status = 0
    for path in args.files:
        try:
            facts = analyze_path(path, interpret=not args.no_interpret)
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
