"""The operations console: server-rendered pages for marketing and logistics planners (``/console``).

:func:`create_console_app` builds the Starlette app the BentoML service mounts at ``/console``; it logs in with
an API key (the service's own key check), keeps a signed session cookie, checks every page and action against
the API's role table (:mod:`serving.console.access`) and draws its charts with the plotly.js bundled in the
plotly package. See ``docs/console.md``.
"""

from serving.console.app import PREFIX, create_console_app

__all__ = ["PREFIX", "create_console_app"]
