"""The channels against real servers: e-mail through aiosmtpd with STARTTLS and login, SMS
through an HTTP gateway (GET and POST templates), and MQTT through Mosquitto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc.alerts import MqttAlertPublisher
from ioc.broker import MosquittoProcess
from ioc.config import BrokerAddress
from ioc.domain import Refused, RetryLater
from ioc.notify import Message, Person
from ioc.notify._channels import EmailSender, MqttSender, SmsSender
from tests.support.http_receiver import HttpReceiver
from tests.support.mqtt import TopicFeed, wait_until
from tests.support.smtp import Mailbox, private_smtp_server

PERSON = Person.model_validate(
    {"id": "an", "name": "Nguyễn Văn An",
     "contacts": {"email": "an@ioc.test", "phone": "+84901000001", "mqtt": True}}
)  # fmt: skip
MESSAGE = Message(
    subject="[IOC] SỰ CỐ nặng: Mất điện lưới",
    text="Trạm BTS Một: mất điện lưới\ntừ 08:00 01/11",
    short="IOC SU CO Mat dien luoi: Tram BTS Mot",
    link="http://ioc.test/wall/?alert=7",
    data={"alert_id": 7},
)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, Mailbox, Path]]:
    with private_smtp_server(tmp_path) as server:
        yield server


def test_email_over_starttls_with_login(smtp_server: tuple[int, Mailbox, Path]) -> None:
    port, mailbox, cert = smtp_server
    sender = EmailSender(
        f"smtp://ioc@127.0.0.1:{port}", "mail-pass", "IOC <ioc@ioc.test>", str(cert)
    )
    sender.send(MESSAGE, PERSON, "alert7:fired:r:an:email")
    sender.send(MESSAGE, PERSON, "alert7:fired:r:an:email")  # a resend after a crash
    first, again = mailbox.messages
    assert first.rcpt_tos == ["an@ioc.test"]
    mail = message_from_bytes(first.original_content or b"")
    assert str(mail["Subject"]) == MESSAGE.subject or "=?utf-8?" in str(mail["Subject"])
    # The same key, the same Message-ID (a mail system keeps one): the key at the sender's domain.
    assert str(mail["Message-ID"]) == "<alert7.fired.r.an.email@ioc.test>"
    resent = message_from_bytes(again.original_content or b"")
    assert resent["Message-ID"] == mail["Message-ID"]
    body = mail.get_payload(decode=True)
    assert isinstance(body, bytes) and "mất điện lưới" in body.decode()
    wrong = EmailSender(f"smtp://ioc@127.0.0.1:{port}", "nope", "IOC <ioc@ioc.test>", str(cert))
    with pytest.raises(Refused, match="SMTP 535"):
        wrong.send(MESSAGE, PERSON, "k")
    # Without the private CA the certificate cannot be checked: retried, never sent in clear.
    untrusted = EmailSender(f"smtp://ioc@127.0.0.1:{port}", "mail-pass", "IOC <i@ioc.test>")
    with pytest.raises(RetryLater, match="CERTIFICATE_VERIFY_FAILED"):
        untrusted.send(MESSAGE, PERSON, "k")
    assert len(mailbox.messages) == 2


def test_sms_through_a_gateway_get_and_post() -> None:
    gateway = HttpReceiver()
    gateway.start()
    try:
        by_get = SmsSender(gateway.url + "/send?to={phone}&msg={text}", None, "sms-token")
        by_get.send(MESSAGE, PERSON, "k1")
        query = parse_qs(urlsplit(gateway.received[0].path).query)
        assert query == {"to": ["+84901000001"], "msg": [MESSAGE.short]}
        assert gateway.received[0].headers["Authorization"] == "Bearer sms-token"
        by_post = SmsSender(gateway.url + "/send", '{{"to": "{phone}", "text": "{text}"}}', None)
        quoted = Message("s", "t", 'say "hi"', None)
        by_post.send(quoted, PERSON, "k2")
        assert orjson.loads(gateway.received[1].body) == {"to": "+84901000001", "text": 'say "hi"'}
        gateway.answers = [503, 400]
        with pytest.raises(RetryLater):
            by_get.send(MESSAGE, PERSON, "k3")
        with pytest.raises(Refused):
            by_get.send(MESSAGE, PERSON, "k3")
    finally:
        gateway.stop()


def test_mqtt_to_the_engineer_s_topic_waits_for_the_broker(mosquitto: MosquittoProcess) -> None:
    feed = TopicFeed(mosquitto.port, "ioc/notify/#", "test-notify-channel")
    publisher = MqttAlertPublisher(
        BrokerAddress("127.0.0.1", mosquitto.port, "ioc-notify-test"), "ioc"
    )
    publisher.start()
    heard: list[mqtt.MQTTMessage] = []  # an MQTT 5 receiver sees the key as correlation data
    receiver = mqtt.Client(CallbackAPIVersion.VERSION2, "test-notify-v5", protocol=mqtt.MQTTv5)
    receiver.on_message = lambda _c, _u, message: heard.append(message)
    subscribed = threading.Event()
    receiver.on_subscribe = lambda *_: subscribed.set()
    receiver.connect("127.0.0.1", mosquitto.port)
    receiver.loop_start()
    receiver.subscribe("ioc/notify/#", qos=1)
    try:
        assert publisher.wait_connected(10) and subscribed.wait(10)
        MqttSender(publisher.publish_confirmed, "ioc").send(MESSAGE, PERSON, "k1")
        wait_until(lambda: bool(feed.events) and bool(heard), 10, "the message")
        [event] = feed.events
        assert event["topic"] == "ioc/notify/person/an" and event["alert_id"] == 7
        assert event["key"] == "k1" and heard[0].properties.CorrelationData == b"k1"
        mosquitto.stop()
        with pytest.raises(RetryLater):
            MqttSender(publisher.publish_confirmed, "ioc").send(MESSAGE, PERSON, "k2")
    finally:
        publisher.stop(timeout_s=0.5)
        feed.stop()
        receiver.disconnect()
        receiver.loop_stop()
