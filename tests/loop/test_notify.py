"""Notifications: an outbox stream, templates in Chinese and English, a pluggable gateway."""

from __future__ import annotations

import json

import pytest

from layers.loop.notify import Dispatcher, LogGateway, Outbox, render
from layers.testing import raw


def test_templates_render_in_chinese_and_english():
    params = {"plate": "津A12345", "place": "新港街道"}
    assert "津A12345" in render("parking_reminder", params, "zh") and "禁停" in \
        render("parking_reminder", params, "zh")
    assert render("parking_reminder", params, "en").startswith("[Binhai Traffic Police]")


def test_a_missing_parameter_stays_visible_instead_of_failing():
    assert "{plate}" in render("parking_reminder", {}, "en")


def test_an_unknown_template_is_refused_at_the_producer(bus):
    with pytest.raises(KeyError, match="unknown message template"):
        Outbox(bus).send("no_such_template", "x", {})


def test_the_default_gateway_writes_each_message_to_its_log(bus, tmp_path):
    Outbox(bus).send("parking_reminder", "津A12345", {"plate": "津A12345"}, channel="sms")
    stats = Dispatcher(bus).drain(LogGateway(tmp_path / "notify.log"))
    lines = [json.loads(x) for x in (tmp_path / "notify.log").read_text().splitlines()]
    assert stats["sent"] == 1 and lines[0]["to"] == "津A12345" and lines[0]["channel"] == "sms"
    assert "津A12345" in lines[0]["text"]


def test_a_message_is_delivered_once(bus, tmp_path):
    Outbox(bus).send("case_dispatch", "water", {"case": "C1"})
    d = Dispatcher(bus)
    gateway = LogGateway(tmp_path / "n.log")
    assert d.drain(gateway)["sent"] == 1 and d.drain(gateway)["sent"] == 0


class Flaky:
    def __init__(self, failures):
        self.failures, self.sent = failures, []

    def send(self, message):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SMS gateway down")
        self.sent.append(message)


def test_a_failed_send_is_retried_on_the_next_drain(bus):
    Outbox(bus).send("case_dispatch", "water", {"case": "C1"})
    gateway, d = Flaky(1), Dispatcher(bus)
    assert d.drain(gateway) == {"sent": 0, "failed": 1, "dead": 0}
    assert d.drain(gateway)["sent"] == 1 and len(gateway.sent) == 1


def test_a_message_that_keeps_failing_goes_to_the_dead_letters(bus):
    Outbox(bus).send("case_dispatch", "water", {"case": "C1"})
    d = Dispatcher(bus, max_attempts=2)
    gateway = Flaky(10)
    d.drain(gateway)
    assert d.drain(gateway)["dead"] == 1
    assert raw(bus).xlen(bus.keys.outbox("dead")) == 1
