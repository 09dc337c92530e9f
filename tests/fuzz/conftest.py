# The fuzz targets are run by hand (see fuzz_analyzer.py); pytest does not collect them.
collect_ignore_glob = ["*.py"]
