"""The application layer: the only package that combines the print path (``spooler``), the
money and rules (``accounting``) and the HTTPS side (``release_api``).

It holds the process (``process.Gateway``: listeners, threads, schedules), the ``printgate``
command (``cli``, ``__main__``), notifications (``notify``) and one module per use case:
``end_job`` (every way a job ends: state change and spool removal), ``panel_services``
(what a printer's panel asks: devices, logins, held jobs, release). Nothing imports this
package; it imports everything below it.
"""
