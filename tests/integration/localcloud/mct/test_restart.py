"""State survives a restart of the MCT service; jobs found RUNNING at start-up run again."""

from __future__ import annotations

from localcloud.mct.testing import running_mct, wait_for_job


def test_state_survives_restart_and_running_jobs_are_requeued(tmp_path):
    with running_mct(tmp_path, start=False, buckets=("src", "dst")) as first:
        client = first.client
        first.service.storage.put("src", "in.mp4", b"not really media")
        client.create_notification("n1", "http://127.0.0.1:9/cb")
        client.create_pipeline("p1", "src", "dst", pipeline_config={"capacity": 3, "notification": "n1"})
        client.create_preset("keep_me", "mp3", audio={"bitRateInBps": 128000})
        client.create_pipeline("gone", "src", "dst")
        client.delete_pipeline("gone")
        job_id = client.create_job(
            "p1", {"sourceKey": "in.mp4"}, {"targetKey": "o.mp3", "presetName": "keep_me"}
        ).job_id
        waiting = client.create_job(
            "p1", {"sourceKey": "in.mp4"}, {"targetKey": "w.mp3", "presetName": "keep_me"}
        ).job_id
        first.service.backend.mark_running(job_id)  # as if the process died while ffmpeg ran

    with running_mct(tmp_path, start=False) as second:
        client = second.client
        assert client.get_pipeline("p1").config.capacity == 3
        assert client.get_pipeline("gone").state == "INACTIVE"
        assert client.get_preset("keep_me").state == "ACTIVE"
        assert client.get_notification("n1").endpoint == "http://127.0.0.1:9/cb"
        assert client.get_job(job_id).job_status == "RUNNING"
        second.service.start()  # re-queues the RUNNING job, runs both
        for jid in (job_id, waiting):
            job = wait_for_job(client, jid)
            assert job.job_status in ("SUCCESS", "FAILED")  # the source is not media: FAILED with the engine
        assert client.get_pipeline("p1").job_status.running == 0
