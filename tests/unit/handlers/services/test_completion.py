import threading
from datetime import timedelta

from handlers.domain.records import Upload
from handlers.domain.statuses import DELIVERY_DELIVERED, DELIVERY_SENDING
from handlers.services import completion
from handlers.services.reconcile import reconcile
from tests.unit.handlers.conftest import config_dict, make_deps


def done_upload(deps) -> str:
    upload = Upload("u-1", "uploads", "incoming/x.mp4", "e", "videos", 0)
    deps.store.ensure_upload(upload)
    deps.store.ensure_delivery(upload.upload_id, deps.now())
    assert deps.store.mark_upload_done(upload.upload_id, deps.now())
    return upload.upload_id


def test_two_senders_of_one_event_post_it_once():
    # The completion that marked the upload done and a reconcile run (redeliver_after_minutes=0) reach the same
    # PENDING delivery at once: one of them sends it.
    entered, release, posts = threading.Event(), threading.Event(), []

    def slow_post(url, body, headers, timeout):
        posts.append(body)
        entered.set()
        assert release.wait(10)
        return 200

    cfg = config_dict(downstream={"url": "http://app.example/events"},
                      reconcile={"stale_after_minutes": 0, "redeliver_after_minutes": 0})  # fmt: skip
    deps = make_deps(cfg, post=slow_post)
    upload_id = done_upload(deps)
    first = threading.Thread(target=completion.deliver, args=(deps, upload_id))
    first.start()
    assert entered.wait(10)
    assert deps.store.get_delivery(upload_id).status == DELIVERY_SENDING
    summary = reconcile(deps, stale_after=timedelta(0))  # sees the delivery in flight: leaves it to its sender
    assert summary["redelivered"] == 0
    release.set()
    first.join(10)
    assert len(posts) == 1 and deps.store.get_delivery(upload_id).status == DELIVERY_DELIVERED


def test_a_sender_that_died_mid_round_is_taken_over_after_its_lease():
    deps = make_deps(config_dict(downstream={"url": "http://app.example/events"}), post=lambda *a: 200)
    upload_id = done_upload(deps)
    assert deps.store.claim_delivery(deps.store.get_delivery(upload_id), deps.now())  # ... and then it died
    assert reconcile(deps, stale_after=timedelta(0))["redelivered"] == 0  # within its lease
    later = deps.now() + completion.sending_lease(deps) + timedelta(seconds=1)
    deps.now = lambda: later
    assert reconcile(deps, stale_after=timedelta(0))["redelivered"] == 1
    assert deps.store.get_delivery(upload_id).status == DELIVERY_DELIVERED
