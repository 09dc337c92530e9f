"""The release API's real listeners: HTTPS with the self-signed certificate and TLS 1.2
at least, and plain HTTP that only redirects."""
import http.client
import socket
import ssl

import pytest

from tests.fixtures.browser import panel_server
from tests.release_api.panel_test_double import InMemoryPanelServicesTestDouble

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with panel_server(InMemoryPanelServicesTestDouble(), tmp_path_factory.mktemp("release")) as running:
        yield running


def https_port(server):
    return server.listeners.https_port.getHost().port


def test_https_serves_the_stylesheet_with_the_generated_certificate(server):
    context = ssl.create_default_context(cafile=str(server.listeners.certificate.certificate))
    connection = http.client.HTTPSConnection("127.0.0.1", https_port(server), context=context, timeout=5)
    connection.request("GET", "/panel/static/panel.css")
    response = connection.getresponse()
    assert response.status == 200 and b".screen-compact" in response.read()
    assert connection.sock.version() in ("TLSv1.2", "TLSv1.3")


def test_plain_http_redirects_to_https(tmp_path):
    with panel_server(InMemoryPanelServicesTestDouble(), tmp_path, http_port=0,
                      public_host="print.example.org") as running:
        listeners = running.listeners
        connection = http.client.HTTPConnection("127.0.0.1", listeners.http_port.getHost().port, timeout=5)
        connection.request("GET", "/panel/?x=1", headers={"Host": "gateway.example:80"})
        response = connection.getresponse()
        port = listeners.https_port.getHost().port
        assert response.status == 301
        assert response.getheader("location") == f"https://gateway.example:{port}/panel/?x=1"
