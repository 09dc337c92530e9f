"""The web pages for admins, finance and users, on the gateway's HTTPS listener."""
