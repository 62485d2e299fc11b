"""Which role may open which console page or run which action: the API's own role table, not a second one.

Every page and action is tied to the API route that answers the same question (``/v1/audiences`` for the
customer pages, ``/v1/routes/plan`` for planning routes, ...), and its roles are that route's roles in
:data:`serving.auth.ROUTE_ROLES`. A key that may not call the route may not see the page: a storefront key sees
no customer data, a logistics key no audience, and admin sees everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from serving.auth import ROUTE_ROLES, Role


@dataclass(frozen=True)
class Page:
    """A console page: its name (the URL under ``/console/``), its title and the API route it mirrors."""

    name: str
    title: str
    api_route: str

    @property
    def roles(self) -> frozenset[Role]:
        """Roles that may open the page (admin always may)."""
        return ROUTE_ROLES.get(self.api_route, frozenset())


PAGES: tuple[Page, ...] = (
    Page("overview", "Overview", "/v1/kpis"),
    Page("customers", "Customers", "/v1/audiences"),
    Page("experiments", "Experiments", "/v1/experiments/evaluate"),
    Page("demand", "Demand", "/v1/forecast"),
    Page("logistics", "Logistics", "/v1/routes/plan"),
    Page("models", "Models", "/v1/models"),
)
"""The console's pages, in navigation order."""

ACTIONS: dict[str, str] = {
    "customers/count": "/v1/audiences",
    "customers/export": "/v1/audiences",
    "experiments/evaluate": "/v1/experiments/evaluate",
    "experiments/size": "/v1/experiments/size",
    "logistics/plan": "/v1/routes/plan",
    "logistics/allocate": "/v1/stock/allocate",
}
"""Each console action (under ``/console/``) and the API route whose roles it has."""

PAGE_BY_NAME = {page.name: page for page in PAGES}


def may(roles: frozenset[Role] | frozenset[str], api_route: str) -> bool:
    """True when a holder of ``roles`` may call ``api_route`` (admin may call everything)."""
    held = {Role(r) for r in roles}
    return Role.ADMIN in held or bool(held & ROUTE_ROLES.get(api_route, frozenset()))


def visible_pages(roles: frozenset[Role] | frozenset[str]) -> list[Page]:
    """The pages a holder of ``roles`` may open, in navigation order."""
    return [page for page in PAGES if may(roles, page.api_route)]
