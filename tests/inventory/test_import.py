"""Devices from a province's own sheets, in the shapes provinces keep them: a workbook with a
merged title row, Vietnamese headers, DMS coordinates, blank and total rows; CSV files in UTF-8
with its BOM and in the Vietnamese Windows code page; a mistake named by its cell, and nothing
written when any row is wrong."""

from __future__ import annotations

import shutil
import unicodedata
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook

from ioc.domain import Inventory, Profile
from ioc.inventory import load_inventory, parse_coordinate
from ioc.inventory._import import area_key
from tests.support.cli import Ran, invoke_ioc
from tests.support.clock import VIETNAM

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "inventory.yaml"
HEADERS = ["STT", "Mã trạm", "Tên trạm", "Xã/Phường", "Kinh độ", "Vĩ độ", "Nhà mạng"]
MAP = (EXAMPLE.parent / "bts.map.yaml").read_text(encoding="utf-8")  # the docs' map
SITES = [
    # the example's site, same place: nothing to change but its name and carrier
    [1, "QT-00417", "Trạm BTS Hướng Hiệp 2", "Xã Hướng Hiệp", 106.8377, 16.7802, "Viettel"],
    [2, "QT-00418", "Trạm BTS Khe Sanh", "HƯỚNG HIỆP", "106°50'43.1\"E", "16°46'17.0\"N", "VNPT"],
    [None, None, None, None, None, None, None],  # a blank row between carriers' blocks
    [3, "QT-00419", "Trạm BTS Đakrông", "hướng hiệp", "106,8401", "16,7788", "MobiFone"],
    [None, "Tổng cộng: 3 trạm", None, None, None, None, None],
]


def _workbook(path: Path, rows: list[list[object]], sheet: str = "BTS") -> Path:
    book = Workbook()
    page = book.active
    assert page is not None
    page.title = sheet
    page.append(["DANH SÁCH TRẠM BTS TỈNH QUẢNG TRỊ (cập nhật 11/2026)"])
    page.merge_cells("A1:G1")
    page.append([])
    page.append(HEADERS)
    for row in rows:
        page.append(row)
    book.save(path)
    return path


@pytest.fixture
def place(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the docs' example inventory as IOC_INVENTORY, and the map beside it."""
    inventory = shutil.copy(EXAMPLE, tmp_path / "inventory.yaml")
    (tmp_path / "bts.map.yaml").write_text(MAP, encoding="utf-8")
    env = {"IOC_DATA_DIR": str(tmp_path / "data"), "IOC_INVENTORY": str(inventory)}
    return tmp_path, env


def _in_force(place: tuple[Path, dict[str, str]], profiles: dict[str, Profile]) -> Inventory:
    """The inventory in force, as `ioc inventory export` writes it."""
    folder, env = place
    exported = invoke_ioc("inventory", "export", "--out", str(folder / "in-force.yaml"), env=env)
    assert exported.returncode == 0, exported.stderr
    return load_inventory(folder / "in-force.yaml", profiles, VIETNAM)


def _import(place: tuple[Path, dict[str, str]], *args: str) -> Ran:
    folder, env = place
    return invoke_ioc("inventory", "import", *args, "--map", str(folder / "bts.map.yaml"), env=env)


def test_a_carriers_workbook_comes_in_once_and_again_changes_nothing(
    place: tuple[Path, dict[str, str]], profiles: dict[str, Profile]
) -> None:
    folder, _env = place
    sheet = _workbook(folder / "tram-bts.xlsx", SITES)
    before = (folder / "inventory.yaml").read_text(encoding="utf-8")
    dry = _import(place, str(sheet), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[:4] == [
        "3 bts devices: 2 added, 1 changed, 0 moved, 0 retired",
        "  added    bts-QT-00418",
        "  added    bts-QT-00419",
        "  changed  bts-QT-00417",
    ]
    assert (folder / "inventory.yaml").read_text(encoding="utf-8") == before  # a dry run
    applied = _import(place, str(sheet))
    assert applied.returncode == 0, applied.stderr
    assert "inventory version 2 in force: 2 devices added, 1 device changed" in applied.stdout
    assert (folder / "inventory.yaml").read_text(encoding="utf-8") == before  # the first version
    inventory = _in_force(place, profiles)
    khe_sanh = inventory.devices["bts-QT-00418"]
    assert (khe_sanh.area_id, khe_sanh.tags) == ("QT-C0001", frozenset({"vnpt"}))
    assert khe_sanh.lat == pytest.approx(16.771389, abs=1e-6)  # 16°46'17.0"N
    assert khe_sanh.lon == pytest.approx(106.845306, abs=1e-6)
    assert inventory.devices["bts-QT-00419"].lat == pytest.approx(16.7788)  # a decimal comma
    kept = inventory.devices["bts-QT-00417"]  # what its row does not say is kept
    assert kept.tags == frozenset({"viettel"}) and kept.since_ms is not None
    again = _import(place, str(sheet))
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 changed, 0 moved, 0 retired" in again.stdout
    assert "nothing to change" in again.stdout


def test_every_mistake_is_named_by_its_cell_and_nothing_is_written(
    place: tuple[Path, dict[str, str]],
) -> None:
    folder, _env = place
    wrong = [
        [1, "QT-00418", "Trạm BTS Khe Sanh", "Hướng Hiệp", 106.84, 16.77, "VNPT"],
        [2, "QT-00420", "Trạm BTS Lao Bảo", "Xã Tân Long", 106.6, 16.6, "Viettel"],
        [3, "QT-00421", "Trạm BTS Cam Lộ", "Hướng Hiệp", 106.9, 160.2, "Viettel"],
        [4, None, "Trạm không mã", "Hướng Hiệp", 106.9, 16.7, "Viettel"],
        [5, "QT 00422", "Trạm BTS Gio Linh", "Hướng Hiệp", "106 bắc", 16.8, "Viettel"],
    ]
    sheet = _workbook(folder / "tram-bts.xlsx", wrong)
    other = _workbook(folder / "tram-vnpt.xlsx", [wrong[0]])  # a second carrier's sheet
    before = (folder / "inventory.yaml").read_text(encoding="utf-8")
    refused = _import(place, str(sheet), str(other))
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "ioc: nothing imported:",
        "tram-bts.xlsx:BTS!D5: no area named 'Xã Tân Long'",
        "tram-bts.xlsx:BTS!F6: latitude 160.2 is outside -90..90",
        "tram-bts.xlsx:BTS!B7: no site code",
        "tram-bts.xlsx:BTS!E8: longitude '106 bắc' is no coordinate (decimal degrees, or like "
        "16°46'17\"N)",
        "tram-vnpt.xlsx:BTS!B4: site bts-QT-00418 is also at tram-bts.xlsx:BTS!B4",
    ]
    assert (folder / "inventory.yaml").read_text(encoding="utf-8") == before


TONES = "\u0300\u0301\u0303\u0309\u0323"  # the five tone marks cp1258 writes as combining


def _windows(text: str) -> bytes:
    """As Excel on Vietnamese Windows saves it: cp1258, whose letters carry their hat, breve or
    horn but whose tones are combining marks ("ộ" is "ô" and a dot below)."""
    out = bytearray()
    for char in unicodedata.normalize("NFC", text):
        letter, *marks = unicodedata.normalize("NFD", char)
        tones = "".join(m for m in marks if m in TONES)
        shaped = unicodedata.normalize("NFC", letter + "".join(m for m in marks if m not in TONES))
        out += (shaped + tones).encode("cp1258")
    return bytes(out)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1258"])
def test_csv_in_utf8_with_or_without_its_bom_and_in_the_windows_code_page(
    place: tuple[Path, dict[str, str]], encoding: str, profiles: dict[str, Profile]
) -> None:
    folder, _env = place
    lines = [",".join(HEADERS)]
    lines += ['4,QT-00430,Trạm BTS Hòa Bình,"Xã Hướng Hiệp",106.81,16.76,Vietnamobile']
    text = "\r\n".join(lines) + "\r\n"
    sheet = folder / "tram.csv"
    sheet.write_bytes(_windows(text) if encoding == "cp1258" else text.encode(encoding))
    (folder / "bts.map.yaml").write_text(MAP.replace("sheet: BTS\n", ""), encoding="utf-8")
    applied = _import(place, str(sheet))
    assert applied.returncode == 0, applied.stderr
    device = _in_force(place, profiles).devices["bts-QT-00430"]
    assert device.name == "Trạm BTS Hòa Bình"  # one Unicode form, whatever the file's
    assert device.area_id == "QT-C0001" and device.tags == frozenset({"vietnamobile"})


def test_devices_the_sheets_no_longer_list_are_retired_only_when_asked(
    place: tuple[Path, dict[str, str]], profiles: dict[str, Profile]
) -> None:
    folder, _env = place
    sheet = _workbook(folder / "tram-bts.xlsx", [SITES[1]])
    kept = _import(place, str(sheet))
    assert "0 moved, 0 retired, 1 absent from the sheets (kept)" in kept.stdout
    assert "  absent   bts-QT-00417" in kept.stdout
    assert "devices absent from the sheets stay in the inventory: --retire removes them" in (
        kept.stdout
    )
    assert "bts-QT-00417" in _in_force(place, profiles).devices
    retired = _import(place, str(sheet), "--retire")
    assert retired.returncode == 0, retired.stderr
    assert "0 moved, 1 retired" in retired.stdout and "  retired  bts-QT-00417" in retired.stdout
    assert "inventory version 3 in force: 1 device retired" in retired.stdout
    devices = _in_force(place, profiles).devices
    assert "bts-QT-00417" not in devices and "bts-QT-00418" in devices
    assert "gw-QT-C0001" in devices  # other classes are not the sheet's to retire


def test_a_map_naming_a_column_the_sheet_lacks_says_so(place: tuple[Path, dict[str, str]]) -> None:
    folder, _env = place
    sheet = _workbook(folder / "tram-bts.xlsx", SITES)
    mapping = yaml.safe_load(MAP)
    mapping["columns"]["lat"] = "Vĩ độ (WGS84)"
    (folder / "bts.map.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), "utf-8")
    refused = _import(place, str(sheet))
    assert refused.returncode == 2
    assert "tram-bts.xlsx:BTS: no header row with 'Mã trạm', 'Tên trạm'" in refused.stderr


@pytest.mark.parametrize(
    ("written", "degrees"),
    [
        (16.7714, 16.7714),
        ("16,7714", 16.7714),
        ("16°46'17\"N", 16.771389),
        ("106 50 43.1 E", 106.845306),
        ("16°46′17″ S", -16.771389),
        ("-16.5", -16.5),
        ("106° 50.5'", 106.841667),
    ],
)
def test_coordinates_in_decimal_or_degrees_minutes_seconds(written: object, degrees: float) -> None:
    assert parse_coordinate(written) == pytest.approx(degrees, abs=1e-6)


@pytest.mark.parametrize("written", ["", "N", "16°75'N", "bắc 16", "16.7.7"])
def test_what_is_no_coordinate_is_refused(written: str) -> None:
    with pytest.raises(ValueError):
        parse_coordinate(written)


GATEWAY_MAP = """version: 1
class: netgw
id_prefix: gw-
columns: {id: Mã xã, name: Tên cổng, area: Xã, address: Địa chỉ IP, vendor: Hãng}
vendor_profiles: {DrayTek: generic-router, Cisco: generic-router}
"""
PROBE_FILE = """probe_id: probe-qt-1             # the probe's own device
snmp: {version: "2c", community: commune-ro}
defaults:
  netgw: generic-router
targets:                          # the commune gateways, from the sheet
  - {device: gw-QT-C0001, address: 10.20.1.1}
"""


def test_a_gateway_sheet_makes_its_gateways_probe_targets_keeping_the_file(
    place: tuple[Path, dict[str, str]], profiles: dict[str, Profile]
) -> None:
    folder, env = place
    inventory = yaml.safe_load((folder / "inventory.yaml").read_text(encoding="utf-8"))
    inventory["areas"].append({"id": "QT-C0002", "name": "Xã Lao Bảo", "kind": "commune",
                               "parent": "QT"})  # fmt: skip
    inventory["devices"].append({"id": "probe-qt-1", "class": "probe", "area": "QT",
                                 "name": "Probe Quảng Trị"})  # fmt: skip
    (folder / "inventory.yaml").write_text(yaml.safe_dump(inventory, allow_unicode=True), "utf-8")
    (folder / "gw.map.yaml").write_text(GATEWAY_MAP, encoding="utf-8")
    probe = folder / "probe.yaml"
    probe.write_text(PROBE_FILE, encoding="utf-8")
    book = Workbook()
    page = book.active
    assert page is not None
    page.append(["Mã xã", "Tên cổng", "Xã", "Địa chỉ IP", "Hãng"])
    page.append(["QT-C0001", "Cổng mạng Xã Hướng Hiệp", "Hướng Hiệp", "10.20.1.9", "DrayTek"])
    page.append(["QT-C0002", "Cổng mạng Xã Lao Bảo", "Lao Bảo", "10.20.2.1", "cisco"])
    book.save(folder / "cong-xa.xlsx")
    args = [
        "inventory",
        "import",
        str(folder / "cong-xa.xlsx"),
        "--map",
        str(folder / "gw.map.yaml"),
    ]
    done = invoke_ioc(*args, "--probe", str(probe), env=env)
    assert done.returncode == 0, done.stderr
    assert f"probe targets in {probe}: 1 added, 1 changed" in done.stdout
    written = probe.read_text(encoding="utf-8")
    assert "# the commune gateways, from the sheet" in written  # the operator's comments kept
    targets = {t["device"]: t for t in yaml.safe_load(written)["targets"]}
    assert targets["gw-QT-C0001"] == {"device": "gw-QT-C0001", "address": "10.20.1.9",
                                      "profile": "generic-router"}  # fmt: skip
    assert targets["gw-QT-C0002"]["profile"] == "generic-router"  # "cisco" is Cisco
    checked = invoke_ioc("probe", str(probe), "--check", env=env)  # as the probe reads it
    assert checked.returncode == 0, checked.stderr
    again = invoke_ioc(*args, "--probe", str(probe), env=env)
    assert "probe targets in" in again.stdout and "0 added, 0 changed" in again.stdout
    assert "nothing to change" in again.stdout
    # A profile that needs what a sheet cannot say (the WAN interface): the probe's own check
    # refuses it, and neither file is written.
    (folder / "gw.map.yaml").write_text(
        GATEWAY_MAP.replace("Cisco: generic-router", "Cisco: if-mib-router"), encoding="utf-8"
    )
    before = probe.read_text(encoding="utf-8"), _in_force(place, profiles)
    refused = invoke_ioc(*args, "--probe", str(probe), env=env)
    assert refused.returncode == 2
    assert "targets['gw-QT-C0002']: profile 'if-mib-router' reads the WAN interface" in (
        refused.stderr
    )
    assert (probe.read_text(encoding="utf-8"), _in_force(place, profiles)) == before
    assert not list(folder.glob(".probe.yaml.new"))


def test_a_vendor_without_a_profile_or_a_wrong_address_is_named_by_its_cell(
    place: tuple[Path, dict[str, str]],
) -> None:
    folder, env = place
    (folder / "gw.map.yaml").write_text(GATEWAY_MAP, encoding="utf-8")
    book = Workbook()
    page = book.active
    assert page is not None
    page.append(["Mã xã", "Tên cổng", "Xã", "Địa chỉ IP", "Hãng"])
    page.append(["QT-C0001", "Cổng mạng Xã Hướng Hiệp", "Hướng Hiệp", "10.20.1.300", "DrayTek"])
    page.append(["QT-C0003", "Cổng mạng khác", "Hướng Hiệp", "10.20.3.1", "Huawei"])
    book.save(folder / "cong-xa.xlsx")
    refused = invoke_ioc("inventory", "import", str(folder / "cong-xa.xlsx"),
                         "--map", str(folder / "gw.map.yaml"), env=env)  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[1:] == [
        "cong-xa.xlsx:Sheet!D2: '10.20.1.300' is not an IPv4 or IPv6 address",
        "cong-xa.xlsx:Sheet!E3: vendor 'Huawei' has no probe profile in the map (vendor_profiles)",
    ]


@pytest.mark.parametrize(
    "written",
    [
        "Xã Hòa Bình",
        "Xã Hoà Bình",  # the old tone placement: both occur in one province's sheets
        "XÃ HÒA BÌNH",
        "  xã  hòa   bình ",
        unicodedata.normalize("NFD", "Xã Hòa Bình"),  # tones as combining marks
        "Hoa Binh",
        "Phường Hòa Bình",
    ],
)
def test_an_area_name_is_matched_without_tones_case_spacing_or_its_kind(written: str) -> None:
    assert area_key(written) == area_key("Hòa Bình") == "hoa binh"


def test_thi_tran_is_a_kind_not_part_of_the_name() -> None:
    assert area_key("Thị trấn Khe Sanh") == area_key("THỊ TRẤN KHE SANH") == "khe sanh"
    assert area_key("Thị xã Quảng Trị") == "quang tri"  # not "xa quang tri"


AREAS_MAP = (EXAMPLE.parent / "communes.map.yaml").read_text(encoding="utf-8")


def test_the_communes_come_in_from_their_sheet_before_the_sites(
    place: tuple[Path, dict[str, str]], profiles: dict[str, Profile]
) -> None:
    """After the 2025 reform a province's communes lie in the province itself."""
    folder, env = place
    (folder / "xa.map.yaml").write_text(AREAS_MAP, encoding="utf-8")
    book = Workbook()
    page = book.active
    assert page is not None
    page.append(["DANH MỤC XÃ, PHƯỜNG (sau sắp xếp 2025)"])
    page.append(["Mã xã", "Tên xã", "Thuộc"])
    page.append(["C0001", "Xã Hướng Hiệp", "Quảng Trị"])  # there: nothing to change
    page.append(["C0002", "Xã Lao Bảo", "Tỉnh Quảng Trị"])
    page.append(["C0003", "Phường Đông Hà", "quảng trị"])
    page.append([None, None, None])
    page.append(["C0004", "Xã Sai", "Huyện Không Có"])
    book.save(folder / "xa.xlsx")
    args = ["inventory", "import", str(folder / "xa.xlsx"), "--map", str(folder / "xa.map.yaml")]
    refused = invoke_ioc(*args, env=env)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "ioc: nothing imported:",
        "xa.xlsx:Sheet!C7: no area named 'Huyện Không Có'",
    ]
    page.delete_rows(7)
    book.save(folder / "xa.xlsx")
    done = invoke_ioc(*args, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:3] == [
        "commune areas: 2 added, 0 renamed, 0 moved",
        "  added    QT-C0002",
        "  added    QT-C0003",
    ]
    areas = _in_force(place, profiles).areas
    assert (areas["QT-C0003"].name, areas["QT-C0003"].parent_id) == ("Phường Đông Hà", "QT")
    # The sites can now name them.
    sheet = _workbook(folder / "tram-bts.xlsx", [[1, "QT-00431", "Trạm BTS Lao Bảo", "Lao Bảo",
                                                   106.6, 16.62, "Viettel"]])  # fmt: skip
    sites = _import(place, str(sheet))
    assert sites.returncode == 0, sites.stderr
    assert _in_force(place, profiles).devices["bts-QT-00431"].area_id == "QT-C0002"
    again = invoke_ioc(*args, env=env)
    assert "0 added, 0 renamed, 0 moved" in again.stdout and "nothing to change" in again.stdout
