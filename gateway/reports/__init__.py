"""Running a finance report and writing it out: ``tables`` turns accounting's report rows
into typed columns, one module per format writes them (CSV, XLSX, PDF, JSON), and
``produce`` writes a report to a file under a temporary name, renamed at the end."""
