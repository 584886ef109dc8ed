import pytest

from localcloud.faults import FaultConfig, FaultConfigError


def test_parse_reads_every_kind_of_setting():
    cfg = FaultConfig.parse("api_error_rate=0.3, api_error_kinds=500|throttle, api_latency_ms=50, bos_redeliveries=2")
    assert cfg.api_error_rate == 0.3 and cfg.api_error_kinds == ("500", "throttle")
    assert cfg.api_latency_ms == 50 and cfg.bos_event_deliveries() == 3 and cfg.active


def test_empty_spec_means_no_faults():
    cfg = FaultConfig.parse("")
    assert not cfg.active and cfg.api_fault() is None and cfg.callback_delivery_delays() == [0.0]


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("api_error_rate=2", "api_error_rate=2.0"),
        ("nonsense=1", "'nonsense=1'"),
        ("api_latency_ms=fast", "api_latency_ms='fast'"),
        ("api_error_kinds=500|boom", "500|boom"),
        ("bos_redeliveries=-1", "bos_redeliveries=-1"),
    ],
)
def test_bad_settings_name_the_field_and_value(spec, names):
    with pytest.raises(FaultConfigError, match=names.replace("|", r"\|").replace(".", r"\.")):
        FaultConfig.parse(spec)


def test_error_rate_is_roughly_honoured_and_seed_makes_it_repeatable():
    a = FaultConfig.parse("api_error_rate=0.3,seed=7")
    b = FaultConfig.parse("api_error_rate=0.3,seed=7")
    draws_a = [a.api_fault() for _ in range(2000)]
    assert draws_a == [b.api_fault() for _ in range(2000)]
    rate = sum(d is not None for d in draws_a) / len(draws_a)
    assert 0.25 < rate < 0.35
    assert {d for d in draws_a if d} == {"500", "503", "throttle", "timeout"}


def test_callback_faults_drop_duplicate_and_delay():
    assert FaultConfig.parse("callback_drop_rate=1").callback_delivery_delays() == []
    dup = FaultConfig.parse("callback_duplicate_rate=1,callback_delay_ms=200,seed=1").callback_delivery_delays()
    assert len(dup) == 2 and all(0 <= d <= 0.2 for d in dup)
