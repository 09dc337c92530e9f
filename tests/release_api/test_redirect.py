"""Plain HTTP sends everyone to HTTPS."""
from twisted.web.test.requesthelper import DummyRequest

from release_api.redirect import HttpsRedirect


def render(method=b"GET", uri=b"/panel/?x=1", host=b"gw.example:8080"):
    request = DummyRequest(uri.split(b"/")[1:])
    request.method = method
    request.uri = uri
    if host is not None:
        request.requestHeaders.setRawHeaders(b"host", [host])
    body = HttpsRedirect(https_port=8443, public_host="print.example.org").render(request)
    return request, body


def test_a_get_is_moved_permanently_to_the_same_path_on_https():
    request, body = render()
    assert request.responseCode == 301
    assert request.responseHeaders.getRawHeaders(b"location") == [b"https://gw.example:8443/panel/?x=1"]


def test_a_post_keeps_its_method_with_308():
    request, _ = render(method=b"POST")
    assert request.responseCode == 308


def test_a_hostile_host_header_falls_back_to_the_public_name():
    request, _ = render(host=b"evil.example/\r\nSet-Cookie: x=1")
    assert request.responseHeaders.getRawHeaders(b"location") == [b"https://print.example.org:8443/panel/?x=1"]


def test_no_host_header_uses_the_public_name_and_port_443_is_left_out():
    request = DummyRequest([b""])
    request.uri = b"/"
    HttpsRedirect(https_port=443, public_host="print.example.org").render(request)
    assert request.responseHeaders.getRawHeaders(b"location") == [b"https://print.example.org/"]
