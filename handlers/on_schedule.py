"""CFC entrypoint for the reconciler (cron trigger): `handlers.on_schedule.handler`."""

from __future__ import annotations

from typing import Any

from handlers import bootstrap
from handlers.logs import logger
from handlers.services.reconcile import reconcile
from handlers.wire.cfc_context import adapt_context

bootstrap.init_at_cold_start()


def handler(event: dict[str, Any] | None = None, context: Any = None) -> dict[str, Any]:
    return _handle(event or {}, adapt_context(context))


@logger.inject_lambda_context(clear_state=True)
def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return reconcile(bootstrap.get_deps())
