"""localcloud BOS: filesystem buckets behind the BOS object API subset the bce-python-sdk ``BosClient`` uses.

Layout (moto style, like ``localcloud.mct``): ``urls`` (routes) → ``responses`` (HTTP ↔ backend calls, no rules)
→ ``models`` (``BosBackend``: state and rules) → ``exceptions``; ``service`` assembles them; ``events`` builds
the PostEvent bodies; ``watcher`` turns files dropped into bucket directories into events.
"""

from localcloud.bos.service import BosService

__all__ = ["BosService"]
