"""BOS upload events in the PostEvent shape (reference events-and-templates.md §1.1/§1.2).

The same body BOS pushes to webhooks and to CFC BOS triggers: ``{"events": [ {...} ]}``.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

from localcloud.storage import ObjectInfo

# The create event types BSAM accepts for BOS triggers (§1.4).
PUT_OBJECT = "PutObject"
POST_OBJECT = "PostObject"
APPEND_OBJECT = "AppendObject"
COPY_OBJECT = "CopyObject"
COMPLETE_MULTIPART_UPLOAD = "CompleteMultipartUpload"
CREATE_EVENT_TYPES = (PUT_OBJECT, POST_OBJECT, APPEND_OBJECT, COPY_OBJECT, COMPLETE_MULTIPART_UPLOAD)

EVENT_VERSION = "1.0"
EVENT_ORIGIN = "bos:realtime"
# A fixed local account id (BOS puts the bucket owner's 32-hex account id here).
LOCAL_USER_ID = "0" * 32


def bos_time(epoch: float) -> str:
    """Timestamps as the PostEvent doc shows them ("GMT format", e.g. 2018-09-05T02:28:49Z)."""
    return datetime.fromtimestamp(int(epoch), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def bos_domain(region: str) -> str:
    # [CONFLICT] doc example says bj.bcebos.com, bsam-cli's sample {{region}}.bos.baidu.com: we follow the doc.
    return f"{region}.bcebos.com"


def object_created_event(
    info: ObjectInfo,
    event_type: str,
    *,
    region: str,
    user_id: str = LOCAL_USER_ID,
    credentials: dict | None = None,
    x_vars: str = "",
    now: float | None = None,
) -> dict:
    """One PostEvent envelope for one created object.

    ``content.object`` is the plain (decoded) key: whether BOS URL-encodes it is [UNVERIFIED] (§1.2), and the
    handlers accept both. ``eTag`` is spelled as the BOS API doc spells it.
    """
    if event_type not in CREATE_EVENT_TYPES:
        raise ValueError(f"event_type {event_type!r} is not one of {', '.join(CREATE_EVENT_TYPES)}")
    content = {
        "userId": user_id,
        "domain": bos_domain(region),
        "bucket": info.bucket,
        "object": info.key,
        "eTag": info.etag,
        "contentType": info.content_type,
        "filesize": info.size,
        "lastModified": bos_time(info.last_modified),
    }
    if credentials:
        content["credentials"] = dict(credentials)
    content["xVars"] = x_vars
    return {
        "events": [
            {
                "version": EVENT_VERSION,
                "eventId": str(uuid.uuid4()),
                "eventOrigin": EVENT_ORIGIN,
                "eventTime": bos_time(time.time() if now is None else now),
                "eventType": event_type,
                "content": content,
            }
        ]
    }
