"""Installing: our packaging builds without setuptools warnings, and README command 1
(``scripts/install-and-serve``) on an installed clone starts the gateway without running
apt-get or pip again (issue 14.22)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("accounting", "gateway", "spooler", "release_api", "panel_menus", "ext", "printgate_errors.py",
           "setup.py", "pyproject.toml", "scripts")


def test_building_the_packages_warns_of_no_package_setuptools_would_ignore(tmp_path):
    result = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "-d", str(tmp_path / "build")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "would be ignored" not in result.stdout + result.stderr
    built = tmp_path / "build"
    assert (built / "panel_menus" / "templates" / "pin.html").exists()
    assert (built / "panel_menus" / "static" / "panel.css").exists()
    assert (built / "accounting" / "migrations" / "versions").is_dir()


def recorder(path: Path, log: Path) -> None:
    """An executable that notes how it was called (for apt-get, pip and printgate)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "$(basename "$0") $*" >> {log}\n')
    path.chmod(0o755)


def test_install_and_serve_on_an_installed_clone_runs_neither_apt_get_nor_pip(tmp_path):
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, clone / name, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c"))
        else:
            shutil.copy2(source, clone / name)
    calls = tmp_path / "calls"
    for tool in ("apt-get",):
        recorder(tmp_path / "bin" / tool, calls)
    recorder(clone / ".venv" / "bin" / "python", calls)     # pip runs as `.venv/bin/python -m pip`
    recorder(clone / ".venv" / "bin" / "printgate", calls)
    env = dict(os.environ, PATH=f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")

    def run():
        calls.write_text("")
        result = subprocess.run(["bash", "scripts/install-and-serve", "--bind", "127.0.0.1"], cwd=clone, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return calls.read_text().splitlines()

    first = run()
    assert "python -m pip install -q ." in first and first[-1] == "printgate serve --bind 127.0.0.1"
    assert run() == ["printgate serve --bind 127.0.0.1"]  # installed and unchanged: straight to serve
    (clone / "gateway" / "cli" / "serve.py").write_text((clone / "gateway" / "cli" / "serve.py").read_text() + "\n")
    assert "python -m pip install -q ." in run()  # the source changed: installed again
    assert not any(call.startswith("apt-get") for call in first)  # the build packages are installed here


def test_the_readme_names_printgate_serve_to_restart_with():
    assert ".venv/bin/printgate serve" in (ROOT / "README.md").read_text()
