"""Mail: the one sender of the gateway (``sender.MailSender``: queue on disk, retries,
delivery log, SMTP with STARTTLS or implicit TLS, AUTH, POP-before-SMTP) and the notices
it carries (``notices.Notices``: Jinja2 templates, plain text and HTML, per language)."""
