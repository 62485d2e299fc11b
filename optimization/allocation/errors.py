"""The error an allocation or replenishment request raises when its input is wrong."""

from __future__ import annotations

from shopml.errors import ShopmlError


class AllocationInputError(ShopmlError):
    """Allocation or replenishment input breaks its contract; the message names the item and the fix.

    Not a ``ValueError`` on purpose: pydantic validators would wrap it and callers would lose the type.
    """
