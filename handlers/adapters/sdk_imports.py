"""Import the bce SDK without paying for the parts the MCT client never runs.

`baidubce.utils` (imported by every client) imports pycryptodome's AES and `crc32c` at module level, for BOS
encryption and checksums. Those two imports are ~50 ms of the SDK's ~75 ms import at every cold start
(`python -X importtime`), for code MediaClient never calls. `prepare()` puts a stand-in module in their place
that imports the real one on first attribute access, so code that does use them works unchanged, only later.
(importlib.util.LazyLoader does not help here: the `import` statement itself touches the module and loads it.)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

# Modules baidubce.utils imports eagerly but MediaClient never uses.
UNUSED_BY_MEDIA_CLIENT = ("Crypto.Cipher.AES", "crc32c")

_load_lock = threading.Lock()


class _Deferred(types.ModuleType):
    """Stands in sys.modules for `name` until an attribute is read, then imports the real module."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)  # import machinery probing (__spec__, __path__...): do not load for that
        with _load_lock:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = importlib.import_module(self.__name__)
            self.__dict__.update({k: v for k, v in vars(real).items() if not k.startswith("__")})
        return getattr(real, attr)


def prepare() -> None:
    """Call before the first `import baidubce...`; does nothing once the SDK (or the modules) are imported."""
    if "baidubce.utils" in sys.modules:
        return
    for name in UNUSED_BY_MEDIA_CLIENT:
        if name in sys.modules:
            continue
        try:
            installed = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            installed = False
        if installed:  # not installed: the SDK's own import reports it as usual
            sys.modules[name] = _Deferred(name)
