"""Panel menus for printers' built-in browsers: menu definitions (``menus``), Jinja2
templates (``templates/``), one stylesheet (``static/panel.css``) and ``render``."""
