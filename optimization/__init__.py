"""Delivery routing and stock allocation with OR-Tools."""
