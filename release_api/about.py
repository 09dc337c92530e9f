"""``GET /``: a plain page for a person who opens the gateway's address in a browser.

The panel screens only work in a registered printer's panel (its agent signs the launch),
so a normal browser gets this page instead of "Printer not recognised": what this server
is, what each address is for, and where the admin pages will be."""
from __future__ import annotations

from twisted.web.resource import Resource

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Printgate print gateway</title></head>
<body>
<h1>Printgate print gateway</h1>
<p>This server holds print jobs until their owners release them at a printer, and
charges what was printed.</p>
<ul>
<li><strong>Printing</strong>: workstations print to the queues of this server over IPP
(<code>ipp://&lt;this server&gt;/printers/&lt;queue&gt;</code>, or <code>ipps://</code> on this
HTTPS port), LPD (port 515) or RAW (port 9100).</li>
<li><strong>Printer panels</strong>: <code>/panel/launch</code> is opened by a registered
printer's panel, which signs the request with the credentials from
<code>printgate devices add</code>. It cannot be used from a normal browser.</li>
<li><strong>Administration</strong>: the <code>printgate</code> command on this server
(<code>printgate --help</code>). Web admin pages are not built yet; they will be at
<code>/admin/</code>.</li>
</ul>
</body>
</html>
"""


class AboutPage(Resource):
    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"content-security-policy", b"default-src 'none'")
        request.setHeader(b"x-content-type-options", b"nosniff")
        return PAGE.encode("utf-8")

    render_HEAD = render_GET
