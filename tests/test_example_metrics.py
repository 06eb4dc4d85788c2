"""example_app serves the library's Prometheus metrics at /metrics, to whom the operator page
answers (loopback without a password, the password with one), and not at all when they are off."""

from __future__ import annotations

from flask_friendcb.testing import signed_client

from .test_example_operator import BuildExample, operator_client


def test_metrics_count_the_callbacks_answered(example: BuildExample) -> None:
    service = example()
    client = operator_client(service)
    before = client.get("/metrics")
    assert before.status_code == 200
    assert before.mimetype == "text/plain"
    assert signed_client(service.app).callback().status_code == 200
    after = client.get("/metrics").get_data(as_text=True)
    counted = (
        'friendcb_callbacks_total{command="Sns.CallbackPrevFriendResponse",error_code="0",'
        'status="200"}'
    )
    assert counted in after

    def count(text: str) -> float:
        for line in text.splitlines():
            if line.startswith(counted):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    assert count(after) == count(before.get_data(as_text=True)) + 1


def test_metrics_are_the_operators_only(example: BuildExample) -> None:
    assert operator_client(example(), "192.0.2.7").get("/metrics").status_code == 403
    service = example(EXAMPLE_PASSWORD="a long enough password")
    client = operator_client(service, "192.0.2.7")
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert "friendcb_" not in refused.get_data(as_text=True)
    assert client.get("/metrics", auth=("x", "a long enough password")).status_code == 200


def test_metrics_can_be_turned_off(example: BuildExample) -> None:
    response = operator_client(example(FRIENDCB_METRICS=False)).get("/metrics")
    assert response.status_code == 404
    assert "friendcb_" not in response.get_data(as_text=True)
