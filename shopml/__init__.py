"""shopml's kernel: settings, errors, geography and logging set-up that every domain may import.

The kernel imports no domain package (``features``, ``training``, ``optimization``, ``experiments``) and no
front door (``cli``, ``serving``); ``make lint`` checks this with import-linter.
"""

from shopml.errors import ShopmlError
from shopml.settings import Settings, load_settings

__all__ = ["Settings", "ShopmlError", "load_settings"]
__version__ = "0.1.0"
