"""The settings model. Every mistake is reported with the variable or key that carries it."""

from __future__ import annotations

import os
import re
import socket
import tomllib
from dataclasses import dataclass
from datetime import tzinfo
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from ioc.domain import DEFAULT_ZONE, BadFileError, zone_named

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

ENV_PREFIX = "IOC_"
_TOPIC_LEVEL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ConfigError(BadFileError):
    """The configuration is wrong; the message has one line per mistake."""


class InfluxApi(StrEnum):
    """Which InfluxDB write endpoint to use."""

    V2 = "v2"
    V1 = "v1"


class UnknownDevicePolicy(StrEnum):
    """What to do with telemetry from a device the inventory does not list."""

    ACCEPT = "accept"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class MqttEndpoint:
    """A parsed IOC_MQTT_URL."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where an MQTT client connects and as whom."""

    host: str
    port: int
    client_id: str
    protocol: str = "5"
    tls: bool = False
    ca_file: str | None = None
    username: str | None = None
    password: str | None = None
    cert_file: str | None = None  # a client certificate (PEM) for a broker that asks for one
    key_file: str | None = None


_NODE_NAME = r"^[A-Za-z0-9_.-]{1,48}$"  # it goes into MQTT client ids (64 at most)


def _default_node_name() -> str:
    """The host's name, as a node name (a container's is its id)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname().split(".")[0])[:48]
    return name or "node"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ioc"


class Settings(BaseSettings):
    """Everything ioc can be told; see README.md, section Configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, validate_default=True
    )

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_client_id: str = Field(default="ioc-ingest", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    mqtt_shared_group: str | None = None
    mqtt_protocol: str = Field(default="5", pattern=r"^(5|3\.1\.1)$")
    mqtt_ca_file: Path | None = None
    mqtt_cert_file: Path | None = None  # client certificate for mqtts://, with IOC_MQTT_KEY_FILE
    mqtt_key_file: Path | None = None
    mqtt_username: str | None = Field(default=None, min_length=1, max_length=256)
    mqtt_password: SecretStr | None = None  # or IOC_MQTT_PASSWORD_FILE
    topic_prefix: str = "ioc"

    influx_url: str | None = None
    influx_db: str = Field(default="ioc", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    influx_api: InfluxApi = InfluxApi.V2
    influx_token: SecretStr | None = None
    influx_org: str | None = None
    influx_username: str | None = None
    influx_password: SecretStr | None = None
    # gzip each write: worth its CPU only where the link to InfluxDB is slow (docs/operations.md)
    influx_gzip: bool = False

    state_url: str | None = None
    # A cluster (PostgreSQL state only): each `ioc run` names itself; the leader holds a lease
    # of this length and another node takes over within it after the leader dies.
    node_name: str = Field(default_factory=lambda: _default_node_name(), pattern=_NODE_NAME)
    lease_s: float = Field(default=15.0, ge=2, le=300)
    # A node gone this long (not running, its ingest session ended) drops out of `ioc status`.
    node_forget_after_s: float = Field(default=7 * 86400, ge=60)
    state_password: SecretStr | None = None  # put into IOC_STATE_URL (or IOC_STATE_PASSWORD_FILE)
    data_dir: Path = Field(default_factory=_default_data_dir)
    unknown_devices: UnknownDevicePolicy = UnknownDevicePolicy.ACCEPT
    profiles_dir: Path | None = None
    inventory: Path | None = None
    rules_dir: Path | None = None

    max_clock_skew_s: float = Field(default=600.0, gt=0, le=7 * 86400)
    max_payload_bytes: int = Field(default=65536, ge=256, le=16 * 1024 * 1024)
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    batch_interval_s: float = Field(default=0.5, gt=0, le=60)
    max_in_flight: int = Field(default=40000, ge=10, le=65535)
    # A consumer whose link dies without a word (a firewall, a cut cable) notices within about
    # twice this, and its rules go blind instead of judging every device silent: keep it well
    # under half the shortest silence window (the profiles' down_after_s).
    mqtt_keepalive_s: int = Field(default=30, ge=1, le=65535)
    store_writers: int = Field(default=2, ge=1, le=8)
    dead_letter_limit: int = Field(default=10_000, ge=10, le=10_000_000)
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    # The deployment's one time zone: what people read and type (a bare date is its midnight).
    timezone: str = DEFAULT_ZONE
    # The language people are spoken to in unless they choose the other (the wall's switch,
    # the API's Accept-Language, a person's in the notification file).
    language: Literal["vi", "en"] = "vi"

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_cors_origins: list[str] = []  # closed by default

    # People's accounts (docs/accounts.md): how long a session lasts, the lockout, and the
    # province's directory (its file; the service account's password apart from it).
    session_hours: float = Field(default=12.0, gt=0, le=30 * 24)
    lockout_attempts: int = Field(default=5, ge=1, le=100)
    lockout_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    directory_file: Path | None = None  # LDAP / Active Directory; none: local accounts only
    directory_password: SecretStr | None = None

    notify_config: Path | None = None  # the notification file; none: nobody is notified
    notify_webhook_secret: SecretStr | None = None  # signs webhook bodies (HMAC-SHA256)
    notify_link_secret: SecretStr | None = None  # signs acknowledgement links; none: no links
    notify_link_ttl_s: float = Field(default=86400.0, ge=60, le=30 * 86400)
    smtp_url: str | None = None  # smtp://user@host:587 (STARTTLS) or smtps://user@host:465
    smtp_password: SecretStr | None = None
    smtp_from: str = "IOC <ioc@localhost>"
    smtp_ca_file: Path | None = None  # PEM CA certificates, when the server's are private
    sms_url: str | None = None  # the gateway; {phone} and {text} are filled in (URL-encoded)
    sms_body: str | None = None  # a POST body template with {phone} and {text}; GET if unset
    sms_token: SecretStr | None = None  # sent as Authorization: Bearer

    @field_validator("mqtt_url")
    @classmethod
    def _check_mqtt_url(cls, value: str) -> str:
        _parse_mqtt_url(value)
        return value

    @field_validator("mqtt_ca_file", "mqtt_cert_file", "mqtt_key_file")
    @classmethod
    def _check_pem_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        what = {
            "mqtt_ca_file": "PEM CA certificates",
            "mqtt_cert_file": "PEM client certificate",
            "mqtt_key_file": "PEM private key",
        }[info.field_name or ""]
        if value is not None and not (value.is_file() and os.access(value, os.R_OK)):
            raise ValueError(f"{value} is not a readable file ({what})")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        zone_named(value)
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        levels = value.split("/")
        if not all(_TOPIC_LEVEL.match(level) for level in levels):
            raise ValueError(
                "must be topic levels of letters, digits, '_', '.', '-' joined by '/' "
                "(no wildcards, no empty level, no leading or trailing '/')"
            )
        return value

    @field_validator("influx_url")
    @classmethod
    def _check_influx_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host, or unset")
        return value.rstrip("/")

    @field_validator("state_url")
    @classmethod
    def _check_state_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        _check_driver(_database_url(value))
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("must be smtp://[user@]host[:port] (STARTTLS) or smtps://... (TLS)")
        return value

    @field_validator("sms_url")
    @classmethod
    def _check_sms_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _check_influx_credentials(self) -> Settings:
        if self.influx_url and self.influx_api is InfluxApi.V2:
            missing = [
                name
                for name, value in (
                    ("IOC_INFLUX_TOKEN", self.influx_token),
                    ("IOC_INFLUX_ORG", self.influx_org),
                )
                if not value
            ]
            if missing:
                raise ValueError(
                    f"IOC_INFLUX_API=v2 needs {' and '.join(missing)} "
                    "(or set IOC_INFLUX_API=v1 for InfluxDB 1.x)"
                )
        return self

    @model_validator(mode="after")
    def _check_client_certificate(self) -> Settings:
        if (self.mqtt_cert_file is None) != (self.mqtt_key_file is None):
            raise ValueError("IOC_MQTT_CERT_FILE and IOC_MQTT_KEY_FILE go together: give both")
        if self.mqtt_cert_file is not None and not self.mqtt.tls:
            raise ValueError(
                "IOC_MQTT_CERT_FILE is for TLS: IOC_MQTT_URL must be mqtts://host:8883"
            )
        return self

    @property
    def zone(self) -> tzinfo:
        """The deployment's time zone."""
        return zone_named(self.timezone)

    @property
    def mqtt(self) -> MqttEndpoint:
        """The broker address, parsed."""
        return _parse_mqtt_url(self.mqtt_url)

    def broker_address(self, client_id: str) -> BrokerAddress:
        """The broker of IOC_MQTT_URL for a client of this id."""
        endpoint = self.mqtt
        return BrokerAddress(
            host=endpoint.host,
            port=endpoint.port,
            client_id=client_id,
            protocol=self.mqtt_protocol,
            tls=endpoint.tls,
            ca_file=str(self.mqtt_ca_file) if self.mqtt_ca_file else None,
            cert_file=str(self.mqtt_cert_file) if self.mqtt_cert_file else None,
            key_file=str(self.mqtt_key_file) if self.mqtt_key_file else None,
            username=self.mqtt_username or endpoint.username,
            password=(
                self.mqtt_password.get_secret_value()
                if self.mqtt_password is not None
                else endpoint.password
            ),
        )

    @model_validator(mode="after")
    def _check_state_password(self) -> Settings:
        if self.state_password is None:
            return self
        if not self.state_url:
            raise ValueError("IOC_STATE_PASSWORD needs IOC_STATE_URL (the database to log in to)")
        if _database_url(self.state_url).password is not None:
            raise ValueError(
                "IOC_STATE_URL has a password and IOC_STATE_PASSWORD gives another: keep one"
            )
        return self

    @property
    def resolved_state_url(self) -> str:
        """The state database URL (with IOC_STATE_PASSWORD in it when given), defaulting to a
        SQLite file in the data dir."""
        if not self.state_url:
            return f"sqlite:///{self.data_dir / 'state.db'}"
        if self.state_password is None:
            return self.state_url
        url = _database_url(self.state_url).set(password=self.state_password.get_secret_value())
        return url.render_as_string(hide_password=False)

    @property
    def clustered(self) -> bool:
        """Whether `ioc run` is a node of a cluster: its state database is a server nodes can
        share (PostgreSQL), not the embedded SQLite file, which serves one node."""
        return _database_url(self.resolved_state_url).get_backend_name() != "sqlite"


def _database_url(value: str) -> URL:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(value)
    except ArgumentError as exc:
        raise ValueError(f"not a SQLAlchemy URL: {exc}") from exc


# The extra of ioc that installs each server database's driver.
_DRIVER_EXTRAS = {"postgresql": "ioc[postgres]"}


def _check_driver(url: URL) -> None:
    """The database's driver must be installed: found now, not by a traceback at `ioc run`."""
    from sqlalchemy.exc import NoSuchModuleError

    try:
        dialect = url.get_dialect()
    except NoSuchModuleError as exc:
        raise ValueError(f"SQLAlchemy knows no database {url.drivername!r}") from exc
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        extra = _DRIVER_EXTRAS.get(url.get_backend_name())
        install = f"pip install '{extra}'" if extra else f"install the {dialect.driver} module"
        raise ValueError(
            f"{url.drivername} needs the {dialect.driver} driver, which is not installed: {install}"
        ) from exc


def _parse_mqtt_url(value: str) -> MqttEndpoint:
    parts = urlsplit(value)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError("must start with mqtt:// or mqtts://, e.g. mqtt://127.0.0.1:1883")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"has a bad port: {exc}") from exc
    if not parts.hostname:
        raise ValueError("has no host, e.g. mqtt://127.0.0.1:1883")
    tls = parts.scheme == "mqtts"
    return MqttEndpoint(
        host=parts.hostname,
        port=port or (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from IOC_* variables over an optional TOML file; raise ConfigError if wrong."""
    file_values: dict[str, Any] = {}
    if config_file is not None:
        try:
            file_values = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{config_file}: cannot read: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: not valid TOML: {exc}") from exc
    # Environment wins over the file: pydantic-settings gives init values priority, so only
    # pass file keys that no IOC_* variable sets.
    values = {
        key: value
        for key, value in file_values.items()
        if f"{ENV_PREFIX}{key.upper()}" not in os.environ
    }
    values.update(_secrets_from_files())
    values.update(overrides)
    unknown = sorted(
        name
        for name in os.environ
        if name.startswith(ENV_PREFIX)
        and name[len(ENV_PREFIX) :].lower() not in Settings.model_fields
        and name.removesuffix("_FILE")[len(ENV_PREFIX) :].lower() not in _SECRET_FIELDS
    )
    if unknown:
        raise ConfigError("\n".join(f"{name}: unknown setting" for name in unknown))
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, config_file)) from exc


_SECRET_FIELDS = frozenset(
    name for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)
)


def _secrets_from_files() -> dict[str, str]:
    """IOC_<SECRET>_FILE: the secret read from a file (Docker's secrets convention), one
    trailing newline dropped."""
    found: dict[str, str] = {}
    for name in sorted(_SECRET_FIELDS):
        variable = f"{ENV_PREFIX}{name.upper()}"
        path = os.environ.get(f"{variable}_FILE")
        if path is None:
            continue
        if variable in os.environ:
            raise ConfigError(f"{variable}_FILE: give {variable} or {variable}_FILE, not both")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"{variable}_FILE: cannot read {path}: {exc.strerror or exc}"
            ) from exc
        secret = text.removesuffix("\n").removesuffix("\r")
        if not secret:
            raise ConfigError(f"{variable}_FILE: {path} is empty")
        found[name] = secret
    return found


def _explain(exc: ValidationError, config_file: Path | None) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if field:
            source = f"{ENV_PREFIX}{field.upper()}"
            if config_file is not None:
                source += f" (or '{field}' in {config_file})"
        else:
            source = "settings"
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        lines.append(f"{source}: {message}")
    return "\n".join(lines)
