"""shopml: settings, errors and the command-line interface that ties the domain packages together."""

from shopml.errors import ShopmlError
from shopml.settings import Settings, load_settings

__all__ = ["Settings", "ShopmlError", "load_settings"]
__version__ = "0.1.0"
