"""Mode, batch and truncate flags: kube-apiserver's own validation rules, applied before writing."""

from __future__ import annotations

import pytest

from kauditcfg.errors import UsageError
from kauditcfg.webhook.tuning import WEBHOOK_DEFAULTS, Tuning, duration_seconds, tuning_flags

V1 = "audit.k8s.io/v1"


def test_webhook_defaults_are_written_in_full() -> None:
    assert tuning_flags("webhook", Tuning()) == {
        "audit-webhook-mode": "batch",
        "audit-webhook-batch-buffer-size": "10000",
        "audit-webhook-batch-max-size": "400",
        "audit-webhook-batch-max-wait": "30s",
        "audit-webhook-batch-throttle-enable": "true",
        "audit-webhook-batch-throttle-qps": "10",
        "audit-webhook-batch-throttle-burst": "15",
        "audit-webhook-initial-backoff": "10s",
        "audit-webhook-truncate-enabled": "false",
    }


def test_options_override_profile_defaults() -> None:
    profile = dict(WEBHOOK_DEFAULTS, **{"audit-webhook-batch-max-size": "100"})
    flags = tuning_flags(
        "webhook",
        Tuning(
            batch_max_wait="1m30s", batch_throttle_qps=2.5, truncate_enabled=True, version="audit.k8s.io/v1"
        ),
        profile,
    )
    assert flags["audit-webhook-batch-max-size"] == "100"
    assert flags["audit-webhook-batch-max-wait"] == "1m30s"
    assert flags["audit-webhook-batch-throttle-qps"] == "2.5"
    assert flags["audit-webhook-truncate-enabled"] == "true"
    assert flags["audit-webhook-truncate-max-batch-size"] == "10485760"
    assert flags["audit-webhook-truncate-max-event-size"] == "102400"
    assert flags["audit-webhook-version"] == "audit.k8s.io/v1"


@pytest.mark.parametrize("mode", ["blocking", "blocking-strict"])
def test_blocking_modes_drop_the_batch_flags(mode: str) -> None:
    flags = tuning_flags("webhook", Tuning(mode=mode))
    assert flags["audit-webhook-mode"] == mode
    assert not [name for name in flags if "-batch-" in name]
    assert flags["audit-webhook-initial-backoff"] == "10s"


def test_throttle_off_drops_qps_and_burst() -> None:
    flags = tuning_flags("webhook", Tuning(batch_throttle_enable=False))
    assert flags["audit-webhook-batch-throttle-enable"] == "false"
    assert "audit-webhook-batch-throttle-qps" not in flags


@pytest.mark.parametrize(
    ("tuning", "says"),
    [
        (Tuning(mode="async"), "--webhook-mode 'async': choose one of batch, blocking, blocking-strict"),
        (Tuning(batch_buffer_size=0), "--webhook-batch-buffer-size 0: must be a positive integer"),
        (Tuning(batch_max_size=-5), "--webhook-batch-max-size -5: must be a positive integer"),
        (Tuning(batch_throttle_burst=0), "--webhook-batch-throttle-burst 0"),
        (Tuning(batch_max_wait="30"), "--webhook-batch-max-wait '30': not a duration"),
        (Tuning(batch_max_wait="0s"), "must be longer than 0s"),
        (Tuning(batch_max_wait="-5s"), "must be longer than 0s"),
        (Tuning(initial_backoff="soon"), "--webhook-initial-backoff 'soon': not a duration"),
        (Tuning(batch_throttle_qps=0.0), "--webhook-batch-throttle-qps 0: must be a number above 0"),
        (Tuning(batch_throttle_qps=float("inf")), "must be a number above 0"),
        (Tuning(version="audit.k8s.io/v1beta1"), "only audit.k8s.io/v1"),
        (Tuning(mode="blocking", batch_max_size=10), "batching applies only to --webhook-mode batch"),
        (Tuning(batch_throttle_enable=False, batch_throttle_qps=5.0), "throttling is off"),
        (Tuning(truncate_max_event_size=1000), "truncation is off"),
        (
            Tuning(truncate_enabled=True, truncate_max_batch_size=100, truncate_max_event_size=200),
            "is smaller than --webhook-truncate-max-event-size 200",
        ),
    ],
)
def test_refused_before_anything_is_written(tuning: Tuning, says: str) -> None:
    with pytest.raises(UsageError) as err:
        tuning_flags("webhook", tuning)
    assert says in str(err.value)
    assert err.value.exit_code == 2


def test_log_backend_writes_only_what_is_asked() -> None:
    assert tuning_flags("log", Tuning()) == {}
    assert tuning_flags("log", Tuning(mode="batch", batch_max_size=100, truncate_enabled=True)) == {
        "audit-log-mode": "batch",
        "audit-log-batch-max-size": "100",
        "audit-log-truncate-enabled": "true",
        "audit-log-truncate-max-batch-size": "10485760",
        "audit-log-truncate-max-event-size": "102400",
    }


@pytest.mark.parametrize(
    ("tuning", "says"),
    [
        (Tuning(batch_max_size=100), "--log-batch-max-size: batching applies only with --log-mode batch"),
        (Tuning(initial_backoff="10s"), "--log-initial-backoff: only the webhook backend retries"),
        (
            Tuning(mode="batch", batch_throttle_enable=True),
            "--log-batch-throttle-enable needs --log-batch-throttle-qps and --log-batch-throttle-burst",
        ),
    ],
)
def test_log_backend_refusals(tuning: Tuning, says: str) -> None:
    with pytest.raises(UsageError) as err:
        tuning_flags("log", tuning)
    assert says in str(err.value)


def test_log_throttle_with_its_values() -> None:
    flags = tuning_flags(
        "log", Tuning(mode="batch", batch_throttle_enable=True, batch_throttle_qps=5, batch_throttle_burst=7)
    )
    assert flags["audit-log-batch-throttle-qps"] == "5"
    assert flags["audit-log-batch-throttle-burst"] == "7"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("1m30s", 90), ("1.5h", 5400), ("500ms", 0.5), ("0", 0), ("2h45m", 9900), ("-1s", -1)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "30", "s", "1d", "1m30", "1 m", "+-1s", "0x10s"])
def test_not_go_durations(text: str) -> None:
    assert duration_seconds(text) is None
