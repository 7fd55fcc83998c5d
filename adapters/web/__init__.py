"""The operator's web dashboard and the health/metrics endpoints (docs/dashboard.md).

An adapter like telegram/ and discord/: the HTTP world (aiohttp, forms, cookies, Jinja2)
stops here, and every change goes through the core's own entry points — the functions the
chat commands call — so a rule lives in one place.
"""
