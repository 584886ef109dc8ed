"""CFC entrypoint for BOS upload events: `handlers.on_upload.handler`."""

from __future__ import annotations

from typing import Any

from handlers import bootstrap
from handlers.logs import logger
from handlers.services.submit import RetryLater, process_upload_event
from handlers.wire.cfc_context import adapt_context
from handlers.wire.upload_events import CORRELATION_ID_PATH, UnknownEventShape

bootstrap.init_at_cold_start()


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return _handle(event, adapt_context(context))


@logger.inject_lambda_context(clear_state=True, correlation_id_path=CORRELATION_ID_PATH)
def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deps = bootstrap.get_deps()
    try:
        summary = process_upload_event(deps, event)
    except UnknownEventShape as exc:
        # Retrying cannot fix the shape: report, do not raise.
        logger.error("unrecognised upload event", extra={"error": str(exc)})
        return {"error": str(exc), "records": 0}
    logger.info("upload event processed", extra={k: v for k, v in summary.items() if k != "objects"})
    if summary["retryable"]:
        raise RetryLater(summary)
    return summary
