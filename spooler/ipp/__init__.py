"""IPP/2.0 (RFC 8010/8011): the intake server on port 631 and the client used for release.

Sans-IO layers (``codec``, ``http``, ``operations``) carry the logic; ``protocol`` is the
thin Twisted shell and ``client`` prints to IPP printers.
"""
