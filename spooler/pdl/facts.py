"""What the page analyzer learned about a job: the one type the accounting side may import."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class JobFacts:
    """Facts about one spool file.

    ``pages`` is for one copy; ``impressions`` are printed sides over all copies; ``sheets``
    are sheets of paper over all copies. A count that could not be established is ``None``,
    never a guess: the accounting side prices such jobs by its rule for unknown counts.
    """

    pdl: str = "unknown"
    languages: list[str] = field(default_factory=list)
    pages: int | None = None
    copies: int = 1
    impressions: int | None = None
    sheets: int | None = None
    duplex: bool = False
    color_pages: int | None = None
    mono_pages: int | None = None
    media: list[str] = field(default_factory=list)
    #: Impressions (all copies) on each media size: what a price per size needs.
    media_impressions: dict[str, int] = field(default_factory=dict)
    pjl: dict[str, str] = field(default_factory=dict)
    job_name: str | None = None
    user_name: str | None = None
    #: How the pages were counted: ``scan`` (PCL, PCL XL, text), ``dsc`` (PostScript
    #: comments), ``interpreted`` (a PostScript program run: by ``psscan`` when plain, else by
    #: Ghostscript) or ``header`` (PDF, raster).
    method: str = "scan"
    #: Pages of PostScript and PDF whose colour each method decided: ``content`` (the page's
    #: own content, walked or scanned) or ``ghostscript`` (rendered with inkcov).
    colour_methods: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        # By hand rather than dataclasses.asdict (which deep-copies recursively): intake
        # calls this for every job it records.
        return {
            "pdl": self.pdl, "languages": list(self.languages), "pages": self.pages, "copies": self.copies,
            "impressions": self.impressions, "sheets": self.sheets, "duplex": self.duplex,
            "color_pages": self.color_pages, "mono_pages": self.mono_pages, "media": list(self.media),
            "media_impressions": dict(self.media_impressions), "pjl": dict(self.pjl),
            "job_name": self.job_name, "user_name": self.user_name, "method": self.method,
            "colour_methods": dict(self.colour_methods), "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "JobFacts":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})
