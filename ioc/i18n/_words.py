"""The words of ioc's own vocabulary that people read everywhere (the CLI, messages, the
wall): an alert's severity, state and history, what a maintenance window covers."""

from __future__ import annotations

from ioc.i18n._speech import mark

SEVERITY_WORDS = {
    "critical": mark("critical"), "major": mark("major"), "minor": mark("minor"),
    "warning": mark("warning"), "indeterminate": mark("indeterminate"),
    "cleared": mark("cleared"),
}  # fmt: skip
STATE_WORDS = {
    "firing": mark("firing"), "acknowledged": mark("acknowledged"),
    "resolved": mark("resolved"),
}  # fmt: skip
TRANSITION_WORDS = {
    "fired": mark("fired"), "updated": mark("updated"), "acknowledged": mark("acknowledged"),
    "note": mark("note"), "resolved": mark("resolved"), "grouped": mark("grouped"),
    "promoted": mark("promoted"), "silenced": mark("silenced"),
    "unsilenced": mark("unsilenced"),
}  # fmt: skip
SCOPE_WORDS = {"device": mark("device"), "area": mark("area"), "rule": mark("rule")}
# Where an account's password is checked (`ioc user list`).
SOURCE_WORDS = {"local": mark("local"), "directory": mark("directory")}
