"""The BentoML service that exposes shopml's predictions, plans and experiment evaluations.

The service itself is :class:`serving.service.Shopml` (imported by BentoML, not here, because importing BentoML
is slow). The light public pieces:

* :class:`ServingRuntime` - endpoint logic without BentoML (in-process use and tests);
* :class:`ModelStore` - champion loading, last-good local copy, reload;
* :class:`KeyRing`, :class:`Role`, :func:`hash_key` - API keys with roles;
* request and response models in :mod:`serving.schemas`, limits in :mod:`serving.limits`.
"""

from typing import TYPE_CHECKING

from shopml.lazy import lazy_exports

if TYPE_CHECKING:
    from serving.auth import KeyRing, Role, hash_key
    from serving.models import ModelStore
    from serving.runtime import ServingRuntime

__getattr__ = lazy_exports(__name__, {
    "KeyRing": "serving.auth",
    "Role": "serving.auth",
    "hash_key": "serving.auth",
    "ModelStore": "serving.models",
    "ServingRuntime": "serving.runtime",
})

__all__ = ["KeyRing", "ModelStore", "Role", "ServingRuntime", "hash_key"]
