"""The colour modes a client can ask for that mean "print in black and white" (IPP
``print-color-mode`` values and the spellings drivers use). Pricing charges such a job as
mono; listings show it as mono. Kept apart from ``accounting.pricing`` so that a listing
can use it without importing the database layer."""

MONO_MODES = frozenset({"monochrome", "mono", "gray", "grayscale", "bi-level", "process-monochrome",
                        "process-bi-level"})
