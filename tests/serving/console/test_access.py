"""The console's page and action roles are the API's route roles."""

from __future__ import annotations

import pytest

from serving.auth import ROUTE_ROLES, Role
from serving.console.access import ACTIONS, PAGES, may, visible_pages


def test_every_page_and_action_mirrors_an_api_route():
    for page in PAGES:
        assert page.api_route in ROUTE_ROLES, page
        assert page.roles == ROUTE_ROLES[page.api_route]
    for action, route in ACTIONS.items():
        assert route in ROUTE_ROLES, action


@pytest.mark.parametrize("role", list(Role))
def test_a_role_sees_exactly_the_pages_of_its_api_routes(role):
    seen = {p.name for p in visible_pages(frozenset({role}))}
    expected = {p.name for p in PAGES if role == Role.ADMIN or role in ROUTE_ROLES[p.api_route]}
    assert seen == expected


def test_storefront_sees_no_customer_data_and_admin_sees_all():
    storefront = {p.name for p in visible_pages(frozenset({Role.STOREFRONT}))}
    assert "customers" not in storefront and "overview" not in storefront and "experiments" not in storefront
    assert {p.name for p in visible_pages(frozenset({Role.ADMIN}))} == {p.name for p in PAGES}
    assert not may(frozenset({"storefront"}), ACTIONS["customers/export"])
    assert may(frozenset({"marketing"}), ACTIONS["customers/export"])
    assert not may(frozenset(), "/v1/models")
