"""The one error type of :mod:`experiments`: a mistake in an experiment's spec or data."""

from shopml.errors import ShopmlError


class ExperimentError(ShopmlError, ValueError):
    """An experiment spec or its data cannot be analysed as given; the message names the field and the fix."""
