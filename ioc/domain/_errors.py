"""ioc's one exception family: every error ioc raises on purpose is an `IocError`, and most say
their *kind*, which decides what happens at the edges: the CLI's exit code (`ioc.cli`,
`EXIT_BY_KIND`) and the API's status (`ioc.api._app`, `STATUS_BY_KIND`), each in one table.

The tree by kind (each leaf lives in the package that raises it; a class under two kinds is
listed under one of them, the table's first decides; `tests/domain/test_errors.py` checks
this tree against the code)::

    IocError
    ├── BadInput                  what was asked or given is wrong      CLI 2, API 422
    │   ├── BadArgument             a command's argument                           ioc.cli
    │   ├── BadFileError            a file or setting ioc reads: fix it, then start again
    │   │   ├── ConfigError           settings (IOC_* variables, the TOML file)      ioc.config
    │   │   ├── CatalogError          device profiles, the inventory                 ioc.inventory
    │   │   ├── InventoryError        an inventory that contradicts itself           ioc.domain
    │   │   ├── RuleError             rule files                                     ioc.rules
    │   │   ├── NotifyConfigError     the notification file, a channel not set up    ioc.notify
    │   │   ├── GatewayConfigError    the gateway file                               ioc.gateway
    │   │   ├── RegisterMapError      a Modbus register map                          ioc.gateway
    │   │   ├── ProbeConfigError      the probe file, a probe profile                ioc.probe
    │   │   └── DirectoryConfigError  the directory file (LDAP / Active Directory)   ioc.accounts
    │   ├── ReportError             a report asked in a way it cannot be made      ioc.reports
    │   │   └── BadPeriod             a period that ends before it starts
    │   └── WindowRefused           a maintenance window that cannot be planned    ioc.alerts
    ├── NotFound                  what was asked about does not exist   CLI 1, API 404
    │   ├── UnknownArea             an area the inventory lacks (BadInput: CLI 2)  ioc.alerts
    │   ├── UnknownWindow           no open window with that id                    ioc.alerts
    │   └── UnknownMeeting          no meeting (a ReportError too: CLI 2)          ioc.reports
    ├── Conflict                  not possible as things stand          CLI 1, API 409
    │   ├── AlertNotOpen            the alert is resolved                          ioc.alerts
    │   ├── ActionRefused           not possible as the alert stands               ioc.alerts
    │   ├── MeetingClosed           a meeting cancelled or not begun has no report ioc.reports
    │   ├── NoRulesProcess          no rules process runs to ask                   ioc.app
    │   ├── NodeInUse               a node running, or its session not adopted     ioc.state
    │   └── StaleVersion            the inventory changed under an edit: again     ioc.state
    ├── DeliveryError             a sink could not take or give data    CLI 1, API 503
    │   ├── RetryLater              away or busy: the same work may succeed later
    │   │   ├── StoreUnavailable      the telemetry store                           ioc.store
    │   │   ├── StateUnavailable      the state database (a dropped connection)     ioc.state
    │   │   │   └── Fenced              a write of a node that no longer leads
    │   │   └── DirectoryUnavailable  the province's directory does not answer     ioc.accounts
    │   ├── Refused                 this data is refused: retrying it will not help
    │   │   └── StoreRejected         bad points, a type conflict                   ioc.store
    │   ├── NeedsOperator           nothing will succeed until someone fixes it
    │   │   ├── StoreMisconfigured    credentials, bucket, URL                      ioc.store
    │   │   └── StateRefused          an integrity or programming error             ioc.state
    │   ├── StoreError              the telemetry store's three kinds, grouped     ioc.store
    │   └── StateError              the state database's, grouped                  ioc.state
    ├── AlertError                an operator's request about an alert (the kinds above)
    ├── AckLinkError              a forged, expired or stale acknowledgement link ioc.notify
    ├── SignInRefused             a wrong password, a locked or expired account  ioc.domain
    ├── ServiceError              a service failed to start, or stopped by itself ioc.app
    ├── BrokerError               the private broker cannot start                ioc.broker
    ├── IdentityError             the broker identities cannot be made           ioc.broker
    └── EdgeError                 collectors at the edge                         ioc.gateway
        ├── IcmpUnavailable         this process may not ping                      ioc.probe
        ├── LineError               a serial line fault
        │   ├── PortError             the port cannot be opened
        │   ├── NoAnswer              a time-out
        │   ├── CrcError              a reply that failed its CRC
        │   ├── BadFrame              garbage instead of a reply
        │   ├── WrongUnit             a reply from another unit
        │   └── ExceptionReply        a Modbus exception
        └── RejectedValue           a value outside its profile's range            ioc.gateway
            └── NoReading             a register that holds no reading

An error of no kind (the last six families) is 1 in the CLI and 500 in the API, where a route
catches it first if it means something else there. Foreign exceptions (paho, urllib3,
SQLAlchemy, pyserial, OSError) are translated where they are caught, `from exc`, so a caller
needs to know only this tree.
"""

from __future__ import annotations


class Said(str):
    """A message for a person, written in English from a template marked for translation
    (`said(...)`), keeping the template and its values: the edges (the CLI, the wall's
    requests) tell it again in the reader's language (`ioc.i18n.Speech.tell`)."""

    template: str
    values: dict[str, object]

    def __new__(cls, template: str, **values: object) -> Said:
        message = super().__new__(cls, template.format(**values) if values else template)
        message.template = template
        message.values = values
        return message


def said(template: str, **values: object) -> Said:
    """`template` filled with `values`, to be told in the reader's language at the edge; the
    catalogs' extraction finds the template by this name."""
    return Said(template, **values)


class IocError(Exception):
    """Something ioc knows how to explain; the message is meant for a person (a `said(...)`
    message can be told in the reader's language)."""


class BadInput(IocError):
    """What was asked or given is wrong (an argument, a file, a setting): fix it, ask again."""


class NotFound(IocError):
    """What was asked about does not exist (an alert, an area, a meeting, a window)."""


class Conflict(IocError):
    """Not possible as things stand (an alert already resolved, a meeting cancelled, no
    process to ask): nothing wrong with the request itself."""


class BadFileError(BadInput):
    """A file or setting is wrong; the message names the file and the field."""


class EdgeError(IocError):
    """A collector at the edge met a fault on its line or in a value."""
