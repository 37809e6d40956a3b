"""`ioc user` as an admin runs it: accounts added with a password read from standard input or
typed twice at a terminal, listed with their state, disabled, enabled and given a new
password; mistakes named with their exit code; every step in the audit trail under the
admin's name."""

from __future__ import annotations

import csv
import io
import os
import pty
import select
import sys
import time
from pathlib import Path

from tests.support.cli import invoke_ioc


def test_accounts_are_added_listed_disabled_and_enabled(tmp_path: Path) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path)}
    lan = ("user", "add", "lan", "--name", "Nguyễn Thị Lan", "--role", "operator")
    added = invoke_ioc(*lan, "--password-stdin", "--by", "chi", env=env, stdin="đèn-đỏ-2026\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout == "account lan (Nguyễn Thị Lan, operator) added\n"
    assert (
        "no accounts"
        in invoke_ioc("user", "list", env={**env, "IOC_DATA_DIR": str(tmp_path / "x")}).stdout
    )

    again = invoke_ioc("user", "add", "LAN", "--name", "Lan", "--role", "viewer",
                       "--password-stdin", env=env, stdin="đèn-đỏ-2026\n")  # fmt: skip
    assert (again.returncode, again.stderr) == (1, "ioc: there is already an account 'lan'\n")
    short = invoke_ioc("user", "add", "hung", "--name", "Hùng", "--role", "viewer",
                       "--password-stdin", env=env, stdin="ngắn\n")  # fmt: skip
    assert (short.returncode, short.stderr) == (
        2, "ioc: a password has 10 to 1024 characters, not 4\n"
    )  # fmt: skip
    unasked = invoke_ioc("user", "add", "hung", "--name", "Hùng", "--role", "viewer", env=env)
    assert unasked.returncode == 2
    assert "give the password on standard input with --password-stdin" in unasked.stderr

    listed = invoke_ioc("user", "list", env=env).stdout.splitlines()
    assert len(listed) == 1
    assert listed[0].split()[:3] == ["lan", "operator", "local"]
    assert listed[0].endswith("enabled; never signed in")

    assert invoke_ioc("user", "disable", "lan", "--by", "chi", env=env).stdout == (
        "account lan disabled\n"
    )
    assert " disabled 20" in invoke_ioc("user", "list", env=env).stdout
    vi = invoke_ioc("user", "list", env={**env, "IOC_LANGUAGE": "vi"}).stdout
    assert "nội bộ" in vi and "đã khoá 20" in vi and "+07:00" in vi
    assert invoke_ioc("user", "enable", "lan", "--by", "chi", env=env).returncode == 0
    changed = invoke_ioc("user", "password", "lan", "--password-stdin", "--by", "chi", env=env,
                         stdin="mật-khẩu-mới-2027\n")  # fmt: skip
    assert changed.stdout == "password of lan changed\n"
    missing = invoke_ioc("user", "disable", "nobody", env=env)
    assert (missing.returncode, missing.stderr) == (1, "ioc: no account 'nobody'\n")

    trail = invoke_ioc("audit", "--action", "account.", "--format", "csv", env=env).stdout
    rows = list(csv.DictReader(io.StringIO(trail)))
    assert [(r["actor"], r["action"], r["target"]) for r in rows][::-1] == [
        ("chi", "account.create", "account lan"),
        ("chi", "account.disable", "account lan"),
        ("chi", "account.enable", "account lan"),
        ("chi", "account.password", "account lan"),
    ]
    assert "mật" not in trail and "đèn" not in trail  # never a password


def test_check_config_reads_the_directory_file_and_names_its_mistakes(tmp_path: Path) -> None:
    example = Path(__file__).parents[2] / "docs" / "examples" / "directory.yaml"
    env = {"IOC_DATA_DIR": str(tmp_path), "IOC_DIRECTORY_FILE": str(example)}
    checked = invoke_ioc("check-config", env={**env, "IOC_DIRECTORY_PASSWORD": "reader-pw"})
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.splitlines()[-1] == (
        "accounts: local, and the directory at ldaps://ldap.quangtri.gov.vn"
        " (groups giving admin: 1, operator: 2, viewer: 1)"
    )
    unread = invoke_ioc("check-config", env=env)
    assert (unread.returncode, unread.stderr) == (
        2, "ioc: the directory's service account needs its password in IOC_DIRECTORY_PASSWORD\n"
    )  # fmt: skip
    wrong = tmp_path / "directory.yaml"
    wrong.write_text(example.read_text(encoding="utf-8").replace("{username})", "lan)"))
    refused = invoke_ioc("check-config", env={**env, "IOC_DIRECTORY_FILE": str(wrong)})
    assert refused.returncode == 2
    assert refused.stderr == f"ioc: {wrong}: users.filter: the filter must hold {{username}}\n"
    local = invoke_ioc("check-config", env={"IOC_DATA_DIR": str(tmp_path)})
    assert local.stdout.splitlines()[-1] == "accounts: local only (IOC_DIRECTORY_FILE unset)"


def test_at_a_terminal_the_password_is_asked_twice_and_a_mismatch_asked_again(
    tmp_path: Path,
) -> None:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env = {**inherited, "IOC_DATA_DIR": str(tmp_path), "IOC_LANGUAGE": "vi"}
    command = [sys.executable, "-m", "ioc", "user", "add", "lan", "--name", "Nguyễn Thị Lan",
               "--role", "operator"]  # fmt: skip
    pid, terminal = pty.fork()
    if pid == 0:  # the child: ioc at a terminal, as an admin types it
        os.execvpe(sys.executable, command, env)
    said = _Terminal(terminal)
    said.until("Mật khẩu: ".encode())
    os.write(terminal, "đèn-đỏ-2026\n".encode())
    said.until("Nhập lại mật khẩu: ".encode())
    os.write(terminal, b"not-the-same-one\n")
    said.until("Mật khẩu: ".encode(), after=said.seen)  # asked again from the start
    os.write(terminal, "đèn-đỏ-2026\n".encode())
    said.until("Nhập lại mật khẩu: ".encode(), after=said.seen)
    os.write(terminal, "đèn-đỏ-2026\n".encode())
    said.until("đã thêm tài khoản lan".encode())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "đèn" not in said.text()  # never echoed
    listed = invoke_ioc("user", "list", env={"IOC_DATA_DIR": str(tmp_path)})
    assert listed.stdout.startswith("lan ")


class _Terminal:
    """What a program wrote to its terminal, read until an expected text."""

    def __init__(self, terminal: int) -> None:
        self.terminal = terminal
        self.output = b""
        self.seen = 0  # where the last text waited for ended

    def until(self, expected: bytes, after: int = 0, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while expected not in self.output[after:]:
            assert time.monotonic() < deadline, f"never said {expected!r}: {self.output!r}"
            ready, _, _ = select.select([self.terminal], [], [], 0.5)
            if ready:
                self.output += os.read(self.terminal, 4096)
        self.seen = self.output.index(expected, after) + len(expected)

    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")
