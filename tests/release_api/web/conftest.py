import pytest

from tests.fixtures.web import web_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One served web site per test module: ana (admin), fay (finance), bob (user),
    carol (another user), and a job held for bob."""
    with web_world(tmp_path_factory.mktemp("web")) as w:
        w.add_person("ana", roles=("admin",), full_name="Ana Admin")
        w.add_person("fay", roles=("finance",), full_name="Fay Finance")
        w.add_person("bob", full_name="Bob User", cards=("04B0B0B0",))
        w.add_person("carol", full_name="Carol User")
        w.bob_job = w.hold("bob", "Quarterly report")
        yield w
