"""The probe file and probe profiles: strict, one exact message per mistake, cross-checked with
the inventory; the shipped profiles load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ioc.domain import Inventory, Profile
from ioc.probe import (
    IcmpStatistic,
    ProbeConfigError,
    bundled_probe_profiles_dir,
    load_probe_config,
    load_probe_profile,
)

DATA = Path(__file__).parent / "testdata"
BAD_FILES = json.loads((DATA / "bad" / "expected.json").read_text(encoding="utf-8"))
BAD_PROFILES = json.loads((DATA / "profiles" / "expected.json").read_text(encoding="utf-8"))


def test_a_probe_file_with_defaults_per_class(
    tmp_path: Path, profiles: dict[str, Profile], inventory: Inventory
) -> None:
    path = tmp_path / "probe.yaml"
    path.write_text(
        "probe_id: probe-qt-1\n"
        "icmp: {packets: 4, round: 8s, timeout: 1s}\n"
        "buffer: {path: probe-buffer.db}\n"
        "defaults: {netgw: generic-router, vc: vc-endpoint}\n"
        "targets:\n"
        "  - {device: gw-QT-D01-C0001, address: 198.51.100.2}\n"
        "  - {device: vc-QT-D01-C0001, address: '2001:db8::2'}\n",
        encoding="utf-8",
    )
    config = load_probe_config(path, profiles, inventory, bundled_probe_profiles_dir())
    assert config.probe_id == "probe-qt-1"
    assert (config.icmp.packets, config.icmp.round_s, config.icmp.timeout_s) == (4, 8.0, 1.0)
    assert config.buffer_path == tmp_path / "probe-buffer.db"
    gateway, endpoint = config.targets
    assert (gateway.device_class, gateway.profile.name) == ("netgw", "generic-router")
    assert (endpoint.device_class, endpoint.profile.name) == ("vc", "vc-endpoint")
    assert dict(endpoint.profile.icmp)["ping_loss_pct"] is IcmpStatistic.LOSS


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_probe_files_fail_with_file_entry_and_reason(
    name: str, profiles: dict[str, Profile], inventory: Inventory
) -> None:
    path = DATA / "bad" / name
    shipped = bundled_probe_profiles_dir()
    with pytest.raises(ProbeConfigError) as caught:
        load_probe_config(path, profiles, inventory, shipped)
    assert str(caught.value) == BAD_FILES[name].format(path=path, profiles=shipped)


@pytest.mark.parametrize("name", sorted(BAD_PROFILES))
def test_bad_probe_profiles_fail_with_file_entry_and_reason(
    name: str, profiles: dict[str, Profile]
) -> None:
    path = DATA / "profiles" / name
    with pytest.raises(ProbeConfigError) as caught:
        load_probe_profile(path, profiles)
    assert str(caught.value) == BAD_PROFILES[name].format(path=path)


def test_every_bad_file_in_testdata_has_its_expected_message() -> None:
    for folder, expected in (("bad", BAD_FILES), ("profiles", BAD_PROFILES)):
        assert {p.name for p in (DATA / folder).glob("*.yaml")} == set(expected)


def test_the_shipped_profiles_load(profiles: dict[str, Profile]) -> None:
    shipped = sorted(bundled_probe_profiles_dir().glob("*.yaml"))
    assert [p.stem for p in shipped] == [
        "delta-orion-dc-power", "generic-router", "if-mib-router", "poly-video", "vc-endpoint",
    ]  # fmt: skip
    for path in shipped:
        profile = load_probe_profile(path, profiles)
        assert profile.icmp or profile.snmp_gets
