"""``printgate analyze --json FILE...``"""
import json
import subprocess
import sys


def test_analyze_prints_one_json_object_per_file(tmp_path):
    job = tmp_path / "job.pcl"
    job.write_bytes(b"\x1b%-12345X@PJL SET QTY=2\r\n@PJL ENTER LANGUAGE=PCL\r\n\x1bEone\x0ctwo\x0c\x1bE\x1b%-12345X")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    out = subprocess.run([sys.executable, "-m", "gateway", "analyze", "--json", str(job), str(junk)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [json.loads(line) for line in out]
    assert [r["path"] for r in rows] == [str(job), str(junk)]
    assert (rows[0]["pdl"], rows[0]["pages"], rows[0]["copies"], rows[0]["impressions"]) == ("pcl5", 2, 2, 4)
    assert set(rows[0]) >= {"sheets", "duplex", "color_pages", "mono_pages", "media", "method", "warnings"}
    assert (rows[1]["pdl"], rows[1]["pages"]) == ("unknown", None) and rows[1]["warnings"]


def test_a_missing_file_is_an_error_line_and_a_failing_status(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gateway", "analyze", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "error" in proc.stderr
