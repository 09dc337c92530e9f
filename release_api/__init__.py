"""The HTTPS release API: TLS setup (``tls``), HTTP->HTTPS (``redirect``), device request
authentication (``device_auth``), the panel flow (``panel``, ``sessions``, ``throttle``)
over the services it is given (``services.PanelServices``), wired by ``server``."""
