"""The error tree in `ioc/domain/_errors.py` is the code's: every `IocError` subclass is in it,
each under its kind, and it names nothing that does not exist. The CLI's exit code and the
API's status are decided by kind, one table each."""

from __future__ import annotations

import importlib
import pkgutil
import re

import ioc
from ioc.domain import BadInput, Conflict, DeliveryError, IocError, NotFound
from ioc.domain import _errors as errors_module

KINDS = (BadInput, NotFound, Conflict, DeliveryError)


def _every_error() -> dict[str, type[IocError]]:
    for module in pkgutil.walk_packages(ioc.__path__, "ioc."):
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: dict[str, type[IocError]] = {}
    pending: list[type[IocError]] = [IocError]
    while pending:
        for sub in pending.pop().__subclasses__():
            found[sub.__name__] = sub
            pending.append(sub)
    return found


def _tree() -> dict[str, str]:
    """Each class the docstring's tree names, with the kind it is listed under."""
    doc = errors_module.__doc__ or ""
    names: dict[str, str] = {}
    kind = ""
    for line in doc.split("::", 1)[1].splitlines():
        match = re.match(r"^\s+([│├└─ ]*)([A-Z][A-Za-z]+)\b", line)
        if match is None:
            continue
        depth, name = len(match.group(1)), match.group(2)
        if depth == 4:  # a kind, or a family of no kind
            kind = name
        names[name] = kind
    return names


def test_the_tree_names_every_error_under_its_kind() -> None:
    every, tree = _every_error(), _tree()
    assert set(tree) - {"IocError"} == set(every), "the tree and the code differ"
    for name, cls in every.items():
        kinds = {k.__name__ for k in KINDS if issubclass(cls, k)}
        listed = tree[name]
        if kinds:
            assert listed in kinds, f"{name} is listed under {listed}, its kinds are {kinds}"
        else:
            assert listed not in {k.__name__ for k in KINDS}, f"{name} has no kind of {listed}"


def test_each_kind_has_one_exit_code_and_one_status() -> None:
    from ioc.alerts import UnknownArea, UnknownWindow
    from ioc.api._app import status_of
    from ioc.broker import IdentityError
    from ioc.cli import exit_code
    from ioc.reports import MeetingClosed, ReportError, UnknownMeeting
    from ioc.state import StateRefused, StateUnavailable

    expected = {
        ReportError: (2, 422),  # a mistake in what was asked
        UnknownArea: (2, 404),  # an argument naming nothing: a mistake, and nothing found
        UnknownMeeting: (2, 404),
        UnknownWindow: (1, 404),  # that window is over: nothing to end
        MeetingClosed: (1, 409),  # as things stand
        StateUnavailable: (1, 503),  # the OpenAPI promises 503, not 500
        StateRefused: (1, 503),
        IdentityError: (1, 500),  # no kind
    }
    for cls, codes in expected.items():
        assert (exit_code(cls("x")), status_of(cls("x"))) == codes, cls.__name__
