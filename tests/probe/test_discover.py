"""`ioc discover` against real agents on TEST-NET-2 hosts in network namespaces: snmpsim
answering as a DrayTek router and as a Delta power controller (profiles declare them), net-snmp's
snmpd (no profile declares it), a host that answers ping only, and one that answers nothing.
Found gear becomes devices and probe targets only on request; unknown gear is listed, never
guessed."""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path

import yaml

from ioc.probe._config import ProbeProfile
from ioc.probe._discover import addresses_of, matching
from tests.support.cli import invoke_ioc
from tests.support.netns import NEEDS_ROOT, net_hosts
from tests.support.snmpd import COMMUNITY, V3_AUTH, V3_PRIV, V3_USER, Snmpd
from tests.support.snmpsim import Snmpsim

WALKS = Path(__file__).parent / "testdata" / "walks"


def _profile(name: str, *oids: str) -> ProbeProfile:
    return ProbeProfile(name, "netgw", (), sys_object_ids=oids)


def test_the_longest_declared_start_wins_and_a_tie_is_no_match() -> None:
    cisco, asr, other = (_profile("cisco", "1.3.6.1.4.1.9"), _profile("asr", "1.3.6.1.4.1.9.1"),
                         _profile("other", "1.3.6.1.4.1.9"))  # fmt: skip
    assert matching("1.3.6.1.4.1.9.1.1166", [cisco, asr]) == [asr]
    assert matching("1.3.6.1.4.1.9.12", [cisco, asr]) == [cisco]
    assert matching("1.3.6.1.4.1.99.1", [cisco, asr]) == []  # 99 is not under 9
    assert matching("1.3.6.1.4.1.9.12", [cisco, other]) == [cisco, other]


def test_a_network_too_large_or_not_one_is_refused() -> None:
    refused = invoke_ioc("discover", "10.0.0.0/8", "--area", "QT")
    assert refused.returncode == 2
    assert "10.0.0.0/8 has 16,777,216 addresses: sweep at most 4,096 at once (a /20)" in (
        refused.stderr
    )
    wrong = invoke_ioc("discover", "10.0.0.300/24", "--area", "QT")
    assert wrong.returncode == 2 and "'10.0.0.300/24' is not an IPv4 or IPv6 network" in (
        wrong.stderr
    )
    assert "127.0.0.1" not in addresses_of("127.0.0.0/30")  # this machine's own are skipped


def _recording(tmp_path: Path, walk: str) -> Path:
    """A walk answering to the community every agent of the test shares."""
    folder = tmp_path / walk
    folder.mkdir()
    return Path(shutil.copy(WALKS / f"{walk}.snmprec", folder / f"{COMMUNITY}.snmprec"))


@NEEDS_ROOT
def test_a_sweep_places_known_gear_lists_the_rest_and_adds_only_when_asked(
    tmp_path: Path,
) -> None:
    env = {"IOC_DATA_DIR": str(tmp_path / "data")}
    probe = tmp_path / "probe.yaml"
    probe.write_text("probe_id: probe-qt-1\ntargets: []\n", encoding="utf-8")
    args = ["discover", "198.51.100.0/27", "--area", "QT", "--community", COMMUNITY,
            "--probe", str(probe), "--id-prefix", "qt-"]  # fmt: skip
    with net_hosts(5) as (router, power, linux, pings, silent), ExitStack() as agents:
        for agent in (
            Snmpsim(router, [_recording(tmp_path, "draytek-vigor2920")]),
            Snmpsim(power, [_recording(tmp_path, "delta-orion")]),
            Snmpd(linux, tmp_path / "snmpd"),
        ):
            agent.start()
            agents.callback(agent.stop)
        silent.cut()
        shown = invoke_ioc(*args, env=env)
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        swept = len(addresses_of("198.51.100.0/27"))  # less this machine's own ends
        assert lines[0] == f"198.51.100.0/27: 4 of {swept} addresses answered, 2 placed, 2 not"
        assert lines[1].startswith(
            f"  {router.address:15} qt-Vigor2920: generic-router (netgw), DrayTek Corporation"
        )
        assert lines[2].startswith(
            f"  {power.address:15} qt-BTS-QT-00001-PWR: delta-orion-dc-power (bts), Delta ORION"
        )
        assert lines[3] == "not added (no profile is for them; nothing is guessed):"
        assert lines[4].startswith(
            f"  {linux.address:15} no probe profile declares 1.3.6.1.4.1.8072.3.2.10: "
            "sys_object_id '1.3.6.1.4.1.8072.3.2.10', sys_name 'commune-router'"
        )
        assert lines[5] == (
            f"  {pings.address:15} answers ping only (SNMP: timeout (no answer: down, "
            "filtered, or a wrong community))"
        )
        assert lines[6:] == [
            "inventory: 2 devices added",
            "  added    device qt-Vigor2920",
            "  added    device qt-BTS-QT-00001-PWR",
            f"probe targets for {probe}: 2",
            "nothing written: --apply adds them",
        ]
        assert yaml.safe_load(probe.read_text(encoding="utf-8"))["targets"] == []
        assert not list(tmp_path.glob(".probe.yaml.new"))
        applied = invoke_ioc(*args, "--apply", "--why", "survey of the province's centre",
                             env=env)  # fmt: skip
        assert applied.returncode == 0, applied.stderr
        assert "inventory version 2 in force" in applied.stdout
        targets = {t["device"]: t for t in yaml.safe_load(probe.read_text())["targets"]}
        assert targets == {
            "qt-Vigor2920": {"device": "qt-Vigor2920", "address": router.address,
                             "profile": "generic-router"},
            "qt-BTS-QT-00001-PWR": {"device": "qt-BTS-QT-00001-PWR", "address": power.address,
                                    "profile": "delta-orion-dc-power"},
        }  # fmt: skip
        checked = invoke_ioc("probe", str(probe), "--check", env=env)
        assert checked.returncode == 0, checked.stderr
        again = invoke_ioc(*args, "--apply", env=env)
        assert again.returncode == 0, again.stderr
        assert f"  {router.address:15} qt-Vigor2920 (watched)" in again.stdout
        assert "inventory: no change" in again.stdout
        # SNMPv3 (authPriv, SHA and AES) instead of a community: snmpd's user answers.
        v3 = invoke_ioc("discover", f"{linux.address}/32", "--area", "QT", "--v3-user", V3_USER,
                        "--v3-auth-key", V3_AUTH, "--v3-priv-key", V3_PRIV, env=env)  # fmt: skip
        assert v3.returncode == 0, v3.stderr
        assert "sys_name 'commune-router'" in v3.stdout
        wrong = invoke_ioc("discover", f"{linux.address}/32", "--area", "QT", "--v3-user",
                           V3_USER, "--v3-auth-key", "not-the-key", "--v3-priv-key", V3_PRIV,
                           env=env)  # fmt: skip
        assert "answers ping only (SNMP: authentication:" in wrong.stdout
    history = invoke_ioc("inventory", "history", env=env).stdout
    assert "discover" in history and "survey of the province's centre" in history
