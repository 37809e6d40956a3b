"""Profiles and inventories: the bundled ones load, bad ones fail with file, item and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ioc.domain import Profile
from ioc.inventory import (
    CatalogError,
    FleetShape,
    bundled_inventory_path,
    bundled_profiles_dir,
    generate_inventory,
    load_inventory,
    load_profiles,
    write_inventory,
)
from tests.support.clock import UTC, VIETNAM

DATA = Path(__file__).parent / "testdata"


def test_bundled_profiles_have_the_metrics_the_field_reports(profiles: dict[str, Profile]) -> None:
    assert set(profiles) == {"bts", "netgw", "vc", "serialgw", "probe"}
    assert set(profiles["bts"].metrics) == {
        "mains_ok",
        "mains_v",
        "mains_v_l2",
        "mains_v_l3",
        "rectifier_ok",
        "battery_v",
        "battery_a",
        "battery_soc_pct",
        "load_a",
        "temp_c",
        "battery_temp_c",
        "humidity_pct",
        "aircon_ok",
        "door_open",
        "smoke",
        "genset_on",
        "fuel_pct",
    }
    assert set(profiles["netgw"].metrics) == {
        "wan_up",
        "rtt_ms",
        "loss_pct",
        "rx_bps",
        "tx_bps",
        "cpu_pct",
        "uptime_s",
        "rtt_max_ms",  # the probe's ICMP figures
        "jitter_ms",
        "in_errors_ps",  # the probe's IF-MIB error and discard rates
        "out_errors_ps",
        "in_discards_ps",
        "out_discards_ps",
    }
    assert set(profiles["vc"].metrics) == {
        "registered",
        "in_call",
        "jitter_ms",
        "loss_pct",
        "bitrate_kbps",
        "mos",
        "ping_rtt_ms",  # the probe's ICMP figures, apart from the call's own
        "ping_rtt_max_ms",
        "ping_jitter_ms",
        "ping_loss_pct",
        "sip_ok",  # the probe's SIP OPTIONS
        "sip_rtt_ms",
        "sip_status",
    }
    for profile in profiles.values():
        assert profile.down_after_s > profile.report_interval_s
        for metric in profile.metrics.values():
            assert metric.label_vi and metric.label_en


def test_bundled_sample_is_province_sized(profiles: dict[str, Profile]) -> None:
    inventory = load_inventory(bundled_inventory_path(), profiles, VIETNAM)
    by_class: dict[str, int] = {}
    for device in inventory.devices.values():
        by_class[device.device_class] = by_class.get(device.device_class, 0) + 1
    assert by_class == {"bts": 2100, "netgw": 241, "vc": 279}
    kinds = [area.kind for area in inventory.areas.values()]
    assert kinds.count("district") == 18 and kinds.count("commune") == 241
    assert kinds.count("department") == 20
    vc = inventory.devices["vc-QT-D01-C0001"]
    assert vc.depends_on == ("gw-QT-D01-C0001",)
    assert inventory.device_area_tags("vc-QT-D01-C0001") == {
        "province": "QT",
        "district": "QT-D01",
        "commune": "QT-D01-C0001",
    }
    for device in inventory.devices.values():
        assert 16.0 < device.lat < 17.5 and 106.0 < device.lon < 108.0


def test_the_sample_is_what_the_generator_makes() -> None:
    bundled = json.loads(bundled_inventory_path().read_text(encoding="utf-8"))
    assert generate_inventory(FleetShape(), seed=7) == bundled


def test_two_level_and_large_inventories_load(tmp_path: Path, profiles: dict[str, Profile]) -> None:
    flat = tmp_path / "flat.yaml"
    write_inventory(
        generate_inventory(FleetShape(districts=0, communes=30, bts_sites=50, departments=3)), flat
    )
    inventory = load_inventory(flat, profiles, VIETNAM)
    commune = next(a for a in inventory.areas.values() if a.kind == "commune")
    assert [a.kind for a in inventory.area_path(commune.id)] == ["province", "commune"]

    big = tmp_path / "big.json"
    write_inventory(generate_inventory(FleetShape.for_device_count(100_000)), big)
    assert 95_000 <= len(load_inventory(big, profiles, VIETNAM).devices) <= 105_000


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "dangling_dependency",
            "{file}: device 'vc-1' depends on 'gw-missing', which does not exist",
        ),
        ("missing_parent", "{file}: area 'P-C1' has parent 'P', which does not exist"),
        (
            "unknown_class",
            "{file}: devices['t-1'].class: unknown class 'toaster' "
            "(profiles define: bts, netgw, probe, serialgw, vc)",
        ),
        (
            "bad_fields",
            "{file}: devices['gw-1'].lat: Input should be less than or equal to 90\n"
            "{file}: devices['gw-1'].colour: Extra inputs are not permitted",
        ),
        ("dependency_cycle", "{file}: dependency cycle through device 'a'"),
        ("reserved_kind", "{file}: areas['P'].kind: area kind 'device_id' is reserved"),
        (
            "position_at_zero",
            "{file}: devices['gw-1']: lat 0, lon 0 is in the Gulf of Guinea, where empty cells "
            "of a sheet land: leave lat and lon out if the position is not known, or set "
            "position_at_zero: true if the device really is there\n"
            "{file}: devices['gw-2']: give both lat and lon, or neither (no known position)",
        ),
    ],
)
def test_bad_inventories_name_file_item_and_field(
    name: str, message: str, profiles: dict[str, Profile]
) -> None:
    path = DATA / f"{name}.yaml"
    with pytest.raises(CatalogError) as caught:
        load_inventory(path, profiles, VIETNAM)
    assert str(caught.value) == message.format(file=path)


def test_bad_profile_names_each_mistake() -> None:
    path = DATA / "bad_profile" / "x.yaml"
    with pytest.raises(CatalogError) as caught:
        load_profiles(path.parent)
    assert str(caught.value) == (
        f"{path}: report_interval_s: Input should be greater than 0\n"
        f"{path}: metrics: metric name 'Temp' must match ^[a-z][a-z0-9_]{{0,62}}$"
    )


def test_a_class_may_not_take_the_name_of_iocs_own_topics() -> None:
    path = DATA / "reserved_class" / "notify.yaml"
    with pytest.raises(CatalogError) as caught:
        load_profiles(path.parent)
    assert str(caught.value) == f"{path}: class: class 'notify' is reserved for ioc's own topics"


def test_empty_profile_dir(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no device profiles"):
        load_profiles(tmp_path)


def test_bundled_paths_point_into_the_package() -> None:
    assert (bundled_profiles_dir() / "bts.yaml").is_file()


def test_a_device_says_since_when_it_is_in_the_inventory(
    tmp_path: Path, profiles: dict[str, Profile]
) -> None:
    path = tmp_path / "since.yaml"
    path.write_text(
        "version: 1\n"
        "areas: [{id: P, name: P, kind: province}]\n"
        "devices:\n"
        "  - {id: a, class: bts, area: P, name: A, lat: 16, lon: 107, since: 2026-11-03}\n"
        "  - {id: b, class: bts, area: P, name: B, lat: 16, lon: 107,\n"
        "     since: '2026-11-03T08:00:00+07:00'}\n"
        "  - {id: c, class: bts, area: P, name: C, lat: 16, lon: 107}\n"
    )
    devices = load_inventory(path, profiles, VIETNAM).devices
    seven_hours = 7 * 3_600_000
    assert devices["a"].since_ms == 1_793_664_000_000 - seven_hours  # midnight in Vietnam
    assert devices["b"].since_ms == 1_793_664_000_000 + 3_600_000  # 01:00 UTC
    in_utc = load_inventory(path, profiles, UTC).devices  # a deployment on UTC
    assert (in_utc["a"].since_ms, in_utc["b"].since_ms) == (
        1_793_664_000_000,
        devices["b"].since_ms,
    )
    assert devices["c"].since_ms is None
    path.write_text(path.read_text().replace("+07:00", ""))  # a time must say its zone
    with pytest.raises(CatalogError, match=r"devices\['b'\].since"):
        load_inventory(path, profiles, VIETNAM)


def test_a_device_without_a_known_position_is_kept_off_the_map(
    tmp_path: Path, profiles: dict[str, Profile]
) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(
        "version: 1\nareas: [{id: P, name: Province, kind: province}]\ndevices:\n"
        "  - {id: gw-3, class: netgw, area: P, name: GW 3}\n"
        "  - {id: buoy-1, class: netgw, area: P, name: B, lat: 0, lon: 0,\n"
        "     position_at_zero: true}\n",
        encoding="utf-8",
    )
    devices = load_inventory(path, profiles, VIETNAM).devices
    assert (devices["gw-3"].lat, devices["gw-3"].lon) == (None, None)
    assert (devices["buoy-1"].lat, devices["buoy-1"].lon) == (0.0, 0.0)
