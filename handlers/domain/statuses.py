"""Job, upload and delivery statuses and the order that makes status updates monotonic."""

# Job claim/status lifecycle. CLAIMED -> PENDING (create_job ok) | RETRYABLE | SUBMIT_FAILED | SUPERSEDED (the key
# already holds a newer object: no job, MCT would transcode the newer bytes); PENDING -> RUNNING -> SUCCESS | FAILED.
# Ranks make updates monotonic.
CLAIMED, RETRYABLE, SUBMIT_FAILED, SUPERSEDED = "CLAIMED", "RETRYABLE", "SUBMIT_FAILED", "SUPERSEDED"
PENDING, RUNNING, SUCCESS, FAILED = "PENDING", "RUNNING", "SUCCESS", "FAILED"
STATUS_RANK = {CLAIMED: 0, RETRYABLE: 0, PENDING: 1, RUNNING: 2, SUCCESS: 3, FAILED: 3, SUBMIT_FAILED: 3, SUPERSEDED: 3}
FINAL_STATUSES = frozenset({SUCCESS, FAILED, SUBMIT_FAILED, SUPERSEDED})
MCT_STATUSES = frozenset({PENDING, RUNNING, SUCCESS, FAILED})

UPLOAD_OPEN, UPLOAD_DONE = "OPEN", "DONE"
DELIVERY_PENDING, DELIVERY_DELIVERED, DELIVERY_FAILED = "PENDING", "DELIVERED", "FAILED"
# Failed for longer than reconcile.redeliver_max_age_hours: no more automatic retries (`autotranscode deliveries
# retry` still sends it).
DELIVERY_EXPIRED = "EXPIRED"
# Taken by one sender (claim_delivery); a sender that died leaves it SENDING until its lease runs out.
DELIVERY_SENDING = "SENDING"

KIND_TRANSCODE, KIND_THUMBNAIL = "transcode", "thumbnail"
