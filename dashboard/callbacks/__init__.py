"""Dash callbacks, one module per page; each has `register(app, services, settings)`."""
