"""A national carriers' sheet imported into a national inventory, beside reading the same
inventory's own file in the same run.

  inventory: a generated country (--devices, province -> commune), written as JSON
  sheet:     every BTS site of it as a carrier keeps them (title row, Vietnamese headers,
             DMS coordinates for one row in ten), as XLSX; communes by their code, as a
             national sheet must (names repeat across a country: ioc refuses an ambiguous one)

Measured: `read_devices` + `diff` + `apply` (the import: reading the workbook, matching areas by
name, checking every row, the diff against the inventory, the new document checked again)
against `load_inventory` of the same inventory's JSON file (the floor: parsing and checking as
many devices once). Peak memory of each (tracemalloc). The sheet changes a tenth of the sites'
names, so the diff has work to do.
Usage: python bench/inventory_import.py [--devices 125000] (about 100,000 BTS sites)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openpyxl import Workbook  # noqa: E402

from ioc.domain import DEFAULT_ZONE, zone_named  # noqa: E402
from ioc.inventory import (  # noqa: E402
    FleetShape,
    apply,
    bundled_profiles_dir,
    diff,
    generate_inventory,
    load_import_map,
    load_inventory,
    load_profiles,
    read_devices,
    write_inventory,
)

MAP = ROOT / "docs" / "examples" / "bts.map.yaml"


def _dms(degrees: float, positive: str, negative: str) -> str:
    hemisphere = positive if degrees >= 0 else negative
    hundredths = round(abs(degrees) * 360_000)  # in 1/100 s, so 59.999 s carries over
    whole, rest = divmod(hundredths, 360_000)
    minutes, seconds = divmod(rest, 6_000)
    return f"{whole}°{minutes}'{seconds / 100:.2f}\"{hemisphere}"


def _sheet(document: dict[str, Any], path: Path) -> int:
    """Every BTS site as a carrier's workbook lists it; the number of rows."""
    book = Workbook(write_only=True)
    page = book.create_sheet("BTS")
    page.append(["DANH SÁCH TRẠM BTS"])
    page.append(["STT", "Mã trạm", "Tên trạm", "Xã/Phường", "Kinh độ", "Vĩ độ", "Nhà mạng"])
    rows = 0
    for device in document["devices"]:
        if device["class"] != "bts":
            continue
        rows += 1
        lat, lon = device["lat"], device["lon"]
        if rows % 10 == 0:
            lat, lon = _dms(lat, "N", "S"), _dms(lon, "E", "W")
        name = device["name"] + (" (mới)" if rows % 10 == 5 else "")
        code = device["id"].removeprefix("bts-")
        page.append([rows, code, name, device["area"], lon, lat, "Viettel"])
    book.save(path)
    return rows


def _measured(work: Callable[[], object]) -> tuple[float, float, object]:
    """Seconds and peak MB of `work`, and what it returned."""
    tracemalloc.start()
    began = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - began
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 1e6, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=125_000)
    args = parser.parse_args()
    profiles = load_profiles(bundled_profiles_dir())
    with tempfile.TemporaryDirectory() as folder:
        document = generate_inventory(FleetShape.for_device_count(args.devices, False), 7)
        for device in document["devices"]:  # the carrier the sheet names: not a change
            if device["class"] == "bts":
                device["tags"] = ["viettel"]
        inventory_file = Path(folder) / "inventory.json"
        write_inventory(document, inventory_file)
        sheet = Path(folder) / "tram-bts.xlsx"
        rows = _sheet(document, sheet)
        print(f"{len(document['devices']):,} devices in {len(document['areas']):,} areas; "
              f"a sheet of {rows:,} BTS sites", flush=True)  # fmt: skip

        base_s, base_mb, inventory = _measured(
            lambda: load_inventory(inventory_file, profiles, zone_named(DEFAULT_ZONE))
        )
        national = Path(folder) / "bts.map.yaml"
        national.write_text(
            MAP.read_text(encoding="utf-8").replace("areas_by: name", "areas_by: id"), "utf-8"
        )
        import_map = load_import_map(national)

        def import_sheet() -> object:
            imported = read_devices([sheet], import_map, inventory)  # type: ignore[arg-type]
            changes = diff(imported, inventory)  # type: ignore[arg-type]
            apply(changes, inventory, profiles, False, str(inventory_file))  # type: ignore[arg-type]
            return changes

        import_s, import_mb, changes = _measured(import_sheet)
        print(f"changes: {changes.summary()}")  # type: ignore[attr-defined]
        print(f"load_inventory (baseline)  {base_s:7.2f} s  peak {base_mb:7.1f} MB")
        print(f"import (read, diff, apply) {import_s:7.2f} s  peak {import_mb:7.1f} MB")
        print(f"ratio: the import takes {import_s / base_s:.1f}x the time of reading the "
              f"inventory file, {import_mb / base_mb:.1f}x its memory; "
              f"{rows / import_s:,.0f} rows/s")  # fmt: skip


if __name__ == "__main__":
    main()
