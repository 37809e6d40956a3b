"""OpenLDAP's slapd as a province's directory: people, groups, a read-only service account,
anonymous search refused, the password-policy overlay (locked accounts, lockout)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ioc.broker import free_port, stop_process, wait_for_port

BASE = "dc=quangtri,dc=gov,dc=vn"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
READER_DN = f"cn=ioc-reader,ou=services,{BASE}"
READER_PASSWORD = "reader-pw-123"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "directory-admin-pw"
# Each person: uid -> (display name, password, extra attribute lines).
PEOPLE_ENTRIES: dict[str, tuple[str, str, list[str]]] = {
    "lan": ("Nguyễn Thị Lan", "lan-pw-2026", []),
    "hung": ("Trần Văn Hùng", "hung-pw-2026", []),
    "minh": ("Lê Quang Minh", "minh-pw-2026", []),
    "thao": ("Phạm Thu Thảo", "thao-pw-2026", []),  # in no group of ioc's
    # Locked by the directory's administrators (the password-policy overlay's permanent lock).
    "khoa": ("Đỗ Minh Khoa", "khoa-pw-2026", ["pwdAccountLockedTime: 000001010000Z"]),
    # Left the province's staff: the account expired in 1970 (shadowExpire counts days).
    "binh": ("Võ Thanh Bình", "binh-pw-2026", ["objectClass: shadowAccount", "shadowExpire: 1"]),
}
GROUP_MEMBERS = {
    "ioc-admins": ["minh"],
    "ioc-operators": ["lan", "minh", "khoa", "binh"],
    "ioc-viewers": ["hung", "lan"],
    "finance": ["thao"],
}


def _ldif() -> str:
    entries = [
        f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Quang Tri\ndc: quangtri",
        *(f"dn: ou={ou},{BASE}\nobjectClass: organizationalUnit\nou: {ou}"
          for ou in ("people", "groups", "services", "policies")),
        f"dn: {READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: ioc-reader\nuserPassword: {READER_PASSWORD}",
        f"dn: cn=default,ou=policies,{BASE}\nobjectClass: pwdPolicy\nobjectClass: person\n"
        "cn: default\nsn: default\npwdAttribute: userPassword\npwdLockout: TRUE\n"
        "pwdMaxFailure: 3\npwdLockoutDuration: 0",
    ]  # fmt: skip
    for uid, (name, password, extra) in PEOPLE_ENTRIES.items():
        family, given = name.split(" ", 1)
        entries.append(
            "\n".join(
                [
                    f"dn: uid={uid},{PEOPLE}",
                    "objectClass: inetOrgPerson",
                    f"uid: {uid}",
                    f"cn: {name}",
                    f"sn: {family}",
                    f"givenName: {given}",
                    f"displayName: {name}",
                    f"userPassword: {password}",
                    *extra,
                ]
            )
        )
    for group, members in GROUP_MEMBERS.items():
        lines = [f"dn: cn={group},{GROUPS}", "objectClass: groupOfNames", f"cn: {group}"]
        entries.append("\n".join(lines + [f"member: uid={m},{PEOPLE}" for m in members]))
    return "\n\n".join(entries) + "\n"


class Slapd:
    """A private slapd on a free loopback port, its directory made from PEOPLE_ENTRIES."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        data = directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        self.config = directory / "slapd.conf"
        schemas = ("core", "cosine", "nis", "inetorgperson")
        self.config.write_text(
            "".join(f"include /etc/ldap/schema/{s}.schema\n" for s in schemas)
            + f"pidfile {directory / 'slapd.pid'}\n"
            "modulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload ppolicy\n"
            # As a province's directory: no anonymous binds or searches.
            "disallow bind_anon\nrequire authc\n"
            f'database mdb\nsuffix "{BASE}"\nrootdn "{ADMIN_DN}"\n'
            f"rootpw {ADMIN_PASSWORD}\ndirectory {data}\n"
            f'overlay ppolicy\nppolicy_default "cn=default,ou=policies,{BASE}"\n'
            "ppolicy_use_lockout\n"
            "access to attrs=userPassword by self write by anonymous auth by * none\n"
            f'access to * by dn.exact="{READER_DN}" read by self read by users read'
            " by * none\n",
            encoding="utf-8",
        )
        (directory / "directory.ldif").write_text(_ldif(), encoding="utf-8")

    def start(self) -> None:
        """Load the directory (offline, slapadd) and serve it."""
        subprocess.run(
            ["slapadd", "-f", str(self.config), "-l", str(self.directory / "directory.ldif")],
            check=True, capture_output=True,
        )  # fmt: skip
        with (self.directory / "slapd.log").open("ab") as log:
            # -d keeps slapd in the foreground, where the test can stop it.
            self._process = subprocess.Popen(
                ["slapd", "-d", "0", "-f", str(self.config), "-h", f"{self.url}/"],
                stdout=log, stderr=log,
            )  # fmt: skip
        wait_for_port(self.port, 10, self._process)

    def stop(self) -> None:
        """Stop the server."""
        if self._process is not None:
            stop_process(self._process)
            self._process = None
