"""Settings: sources, defaults, and the exact message for each mistake (testdata/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ioc.config import ConfigError, InfluxApi, UnknownDevicePolicy, load_settings

DATA = Path(__file__).parent / "testdata"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("IOC_"):
            monkeypatch.delenv(name)


def test_defaults_are_embedded() -> None:
    settings = load_settings()
    assert settings.influx_url is None
    assert settings.mqtt.host == "127.0.0.1" and settings.mqtt.port == 1883
    assert settings.topic_prefix == "ioc"
    assert settings.unknown_devices is UnknownDevicePolicy.ACCEPT
    assert settings.resolved_state_url == f"sqlite:///{settings.data_dir / 'state.db'}"
    assert not settings.clustered  # the embedded state serves one node
    assert settings.node_name and settings.lease_s == 15


def test_a_postgresql_state_makes_a_cluster_node() -> None:
    settings = load_settings(state_url="postgresql+psycopg://ioc@db/ioc", node_name="ioc-2")
    assert settings.clustered and settings.node_name == "ioc-2"
    with pytest.raises(ConfigError, match="IOC_NODE_NAME"):
        load_settings(node_name="a b")  # it goes into MQTT client ids
    with pytest.raises(ConfigError, match="IOC_LEASE_S"):
        load_settings(lease_s=1)


def test_good_file() -> None:
    settings = load_settings(DATA / "good.toml")
    mqtt = settings.mqtt
    assert (mqtt.host, mqtt.port, mqtt.tls, mqtt.username, mqtt.password) == (
        "broker.example",
        8883,
        True,
        "ingest",
        "s@cret",
    )
    assert settings.influx_api is InfluxApi.V2 and settings.influx_db == "telemetry"
    assert settings.unknown_devices is UnknownDevicePolicy.REJECT
    assert settings.topic_prefix == "vn/qt/ioc"


def test_environment_overrides_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_INFLUX_DB", "other")
    monkeypatch.setenv("IOC_BATCH_SIZE", "10")
    settings = load_settings(DATA / "good.toml")
    assert settings.influx_db == "other" and settings.batch_size == 10


def test_secrets_are_not_printed() -> None:
    assert "abc" not in repr(load_settings(DATA / "good.toml"))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "bad_mqtt_scheme",
            "IOC_MQTT_URL (or 'mqtt_url' in {file}): must start with mqtt:// "
            "or mqtts://, e.g. mqtt://127.0.0.1:1883",
        ),
        (
            "bad_mqtt_port",
            "IOC_MQTT_URL (or 'mqtt_url' in {file}): has a bad port: Port out of range 0-65535",
        ),
        (
            "bad_prefix",
            "IOC_TOPIC_PREFIX (or 'topic_prefix' in {file}): must be topic levels of "
            "letters, digits, '_', '.', '-' joined by '/' (no wildcards, no empty level, "
            "no leading or trailing '/')",
        ),
        (
            "v2_without_token",
            "settings: IOC_INFLUX_API=v2 needs IOC_INFLUX_TOKEN and "
            "IOC_INFLUX_ORG (or set IOC_INFLUX_API=v1 for InfluxDB 1.x)",
        ),
        ("bad_api", "IOC_INFLUX_API (or 'influx_api' in {file}): Input should be 'v2' or 'v1'"),
        (
            "bad_policy",
            "IOC_UNKNOWN_DEVICES (or 'unknown_devices' in {file}): Input should be "
            "'accept' or 'reject'",
        ),
        ("unknown_key", "IOC_INFLUX_ULR (or 'influx_ulr' in {file}): unknown setting"),
        (
            "bad_batch",
            "IOC_BATCH_SIZE (or 'batch_size' in {file}): Input should be greater "
            "than or equal to 1",
        ),
        ("not_toml", "{file}: not valid TOML: Invalid value (at line 1, column 12)"),
    ],
)
def test_each_mistake_has_a_clear_message(name: str, message: str) -> None:
    path = DATA / f"{name}.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == message.format(file=path)


def test_bad_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_MAX_CLOCK_SKEW_S", "-5")
    with pytest.raises(ConfigError, match=r"^IOC_MAX_CLOCK_SKEW_S: Input should be greater than 0"):
        load_settings()


def test_unknown_environment_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_INFLUX_ULR", "http://influx:8086")
    with pytest.raises(ConfigError, match=r"^IOC_INFLUX_ULR: unknown setting$"):
        load_settings()


def test_missing_ca_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IOC_MQTT_CA_FILE", str(tmp_path / "nope.pem"))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"IOC_MQTT_CA_FILE: {tmp_path / 'nope.pem'} is not a readable file (PEM CA certificates)"
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"IOC_MQTT_URL": "mqtts://broker:8883", "IOC_MQTT_CERT_FILE": "{pem}"},
         "settings: IOC_MQTT_CERT_FILE and IOC_MQTT_KEY_FILE go together: give both"),
        ({"IOC_MQTT_CERT_FILE": "{pem}", "IOC_MQTT_KEY_FILE": "{pem}"},
         "settings: IOC_MQTT_CERT_FILE is for TLS: IOC_MQTT_URL must be mqtts://host:8883"),
        ({"IOC_MQTT_URL": "mqtts://broker:8883", "IOC_MQTT_CERT_FILE": "{pem}",
          "IOC_MQTT_KEY_FILE": "{missing}"},
         "IOC_MQTT_KEY_FILE: {missing} is not a readable file (PEM private key)"),
    ],
)  # fmt: skip
def test_a_client_certificate_is_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    pem = tmp_path / "client.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    names = {"pem": pem, "missing": tmp_path / "missing.key"}
    for name, value in variables.items():
        monkeypatch.setenv(name, value.format(**names))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == message.format(**names)


def test_a_client_certificate_reaches_the_broker_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("ca.crt", "ioc.crt", "ioc.key"):
        (tmp_path / name).write_text("pem", encoding="ascii")
    monkeypatch.setenv("IOC_MQTT_URL", "mqtts://broker:8883")
    monkeypatch.setenv("IOC_MQTT_CA_FILE", str(tmp_path / "ca.crt"))
    monkeypatch.setenv("IOC_MQTT_CERT_FILE", str(tmp_path / "ioc.crt"))
    monkeypatch.setenv("IOC_MQTT_KEY_FILE", str(tmp_path / "ioc.key"))
    address = load_settings().broker_address("ioc")
    assert (address.tls, address.cert_file, address.key_file) == (
        True, str(tmp_path / "ioc.crt"), str(tmp_path / "ioc.key"),
    )  # fmt: skip


def test_the_database_password_may_come_apart_from_its_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The compose file gives PostgreSQL and ioc one password file (Docker secrets)."""
    secret = tmp_path / "postgres_password"
    secret.write_text("p@ss/word:1\n", encoding="utf-8")
    monkeypatch.setenv("IOC_STATE_URL", "postgresql+psycopg://ioc@postgres:5432/ioc")
    monkeypatch.setenv("IOC_STATE_PASSWORD_FILE", str(secret))
    url = load_settings().resolved_state_url
    assert url == "postgresql+psycopg://ioc:p%40ss%2Fword%3A1@postgres:5432/ioc"
    from sqlalchemy.engine import make_url

    assert make_url(url).password == "p@ss/word:1"
    monkeypatch.setenv("IOC_STATE_URL", "postgresql+psycopg://ioc:other@postgres:5432/ioc")
    with pytest.raises(ConfigError, match="has a password and IOC_STATE_PASSWORD gives another"):
        load_settings()
    monkeypatch.delenv("IOC_STATE_URL")
    with pytest.raises(ConfigError, match="IOC_STATE_PASSWORD needs IOC_STATE_URL"):
        load_settings()


def test_secrets_may_come_from_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """IOC_<SECRET>_FILE, as Docker secrets are mounted: the file's text, one newline off."""
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret-with-trailing-newline\n", encoding="utf-8")
    monkeypatch.setenv("IOC_MQTT_USERNAME", "ioc-ingest")
    monkeypatch.setenv("IOC_MQTT_PASSWORD_FILE", str(secret))
    address = load_settings().broker_address("ioc-ingest")
    assert (address.username, address.password) == ("ioc-ingest", "s3cret-with-trailing-newline")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"IOC_MQTT_PASSWORD": "x", "IOC_MQTT_PASSWORD_FILE": "{secret}"},
         "IOC_MQTT_PASSWORD_FILE: give IOC_MQTT_PASSWORD or IOC_MQTT_PASSWORD_FILE, not both"),
        ({"IOC_SMTP_PASSWORD_FILE": "{missing}"},
         "IOC_SMTP_PASSWORD_FILE: cannot read {missing}: No such file or directory"),
        ({"IOC_SMS_TOKEN_FILE": "{empty}"}, "IOC_SMS_TOKEN_FILE: {empty} is empty"),
        ({"IOC_MQTT_URL_FILE": "{secret}"}, "IOC_MQTT_URL_FILE: unknown setting"),
    ],
    ids=["both", "missing", "empty", "not-a-secret"],
)  # fmt: skip
def test_secret_files_that_are_wrong_are_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variables: dict[str, str], message: str
) -> None:
    paths = {"secret": tmp_path / "s", "missing": tmp_path / "nope", "empty": tmp_path / "e"}
    paths["secret"].write_text("x", encoding="utf-8")
    paths["empty"].write_text("", encoding="utf-8")
    for name, value in variables.items():
        monkeypatch.setenv(name, value.format(**paths))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == message.format(**paths)


def test_a_server_database_without_its_driver_is_a_setting_mistake(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`pip install ioc` without the postgres extra: `ioc check-config` (and so every command)
    stops with exit 2 and the extra to install, instead of `ioc run` dying in a traceback."""
    import sys

    from tests.support.cli import invoke_ioc

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if it were not installed
    checked = invoke_ioc(
        "check-config",
        env={"IOC_DATA_DIR": str(tmp_path), "IOC_STATE_URL": "postgresql+psycopg://ioc@db/ioc"},
    )
    assert checked.returncode == 2
    assert (
        "IOC_STATE_URL: postgresql+psycopg needs the psycopg driver, which is not installed: "
        "pip install 'ioc[postgres]'"
    ) in checked.stderr, checked.stderr
    with pytest.raises(ConfigError, match="SQLAlchemy knows no database 'nosuchdb'"):
        load_settings(state_url="nosuchdb://x/y")
