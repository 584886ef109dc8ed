"""localcloud BOS: filesystem buckets behind the BOS object API subset the bce-python-sdk ``BosClient`` uses.

Layout (moto style): ``responses`` (HTTP wire) → ``models`` (backend: state and rules) → ``exceptions``;
``events`` builds the PostEvent bodies; ``watcher`` turns files dropped into bucket directories into events.
"""

from localcloud.bos.service import BosService

__all__ = ["BosService"]
