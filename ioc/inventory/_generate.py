"""Deterministic inventories of plausible provinces, from the sample size up to 100,000+ devices."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_SYLLABLES = (
    "An",
    "Bình",
    "Cam",
    "Đông",
    "Gio",
    "Hải",
    "Hướng",
    "Linh",
    "Phong",
    "Tân",
    "Triệu",
    "Vĩnh",
    "Thanh",
    "Trung",
    "Hòa",
    "Lộc",
    "Phú",
    "Quang",
    "Sơn",
    "Thủy",
    "Mỹ",
    "Long",
    "Hưng",
    "Xuân",
    "Thuận",
    "Đức",
    "Kim",
    "Ba",
    "Lệ",
    "Minh",
)
_DEPARTMENTS = (
    "Văn phòng UBND",
    "Sở Thông tin và Truyền thông",
    "Sở Nội vụ",
    "Sở Tài chính",
    "Sở Kế hoạch và Đầu tư",
    "Sở Y tế",
    "Sở Giáo dục và Đào tạo",
    "Sở Công Thương",
    "Sở Nông nghiệp và Môi trường",
    "Sở Xây dựng",
    "Sở Tư pháp",
    "Sở Văn hóa và Thể thao",
    "Sở Khoa học và Công nghệ",
    "Sở Du lịch",
    "Thanh tra tỉnh",
    "Ban Dân tộc",
    "Sở Lao động",
    "Sở Giao thông",
    "Ban Quản lý Khu kinh tế",
    "Văn phòng Đoàn ĐBQH",
)


@dataclass(frozen=True, slots=True)
class FleetShape:
    """How big a generated province is. districts=0 gives the post-2025 province -> commune tree."""

    province_id: str = "QT"
    province_name: str = "Quảng Trị"
    districts: int = 18
    communes: int = 241
    bts_sites: int = 2100
    departments: int = 20
    # Bounding box of the province (central Vietnam by default).
    lat_range: tuple[float, float] = (16.35, 17.15)
    lon_range: tuple[float, float] = (106.55, 107.40)

    @classmethod
    def for_device_count(cls, devices: int, districts: bool = True) -> FleetShape:
        """A province scaled so its device count is close to the one asked for."""
        sample = cls()
        scale = max(devices, 10) / sample.device_count()
        communes = max(1, round(sample.communes * scale))
        return cls(
            districts=max(1, round(sample.districts * scale)) if districts else 0,
            communes=communes,
            bts_sites=max(1, round(sample.bts_sites * scale)),
            departments=max(1, round(sample.departments * scale)),
        )

    def device_count(self) -> int:
        """Devices this shape generates: BTS, one gateway and one VC endpoint per commune, etc."""
        return self.bts_sites + 2 * self.communes + self.districts + self.departments


def generate_inventory(shape: FleetShape, seed: int = 7) -> dict[str, Any]:
    """Build an inventory document (the file format) for a province of the given shape.

    One pass, top down (departments, districts, communes, BTS sites), on one random generator:
    the draw order is what makes the bundled sample reproducible from its seed, so the steps
    stay together rather than passing the generator through helpers.
    """
    rng = random.Random(seed)
    p = shape.province_id
    areas: list[dict[str, Any]] = [{"id": p, "name": shape.province_name, "kind": "province"}]
    devices: list[dict[str, Any]] = []

    def spot(lat: float, lon: float, spread: float) -> tuple[float, float]:
        lat = min(max(lat + rng.gauss(0, spread), shape.lat_range[0]), shape.lat_range[1])
        lon = min(max(lon + rng.gauss(0, spread), shape.lon_range[0]), shape.lon_range[1])
        return round(lat, 5), round(lon, 5)

    def anywhere() -> tuple[float, float]:
        return rng.uniform(*shape.lat_range), rng.uniform(*shape.lon_range)

    def place_name() -> str:
        return f"{rng.choice(_SYLLABLES)} {rng.choice(_SYLLABLES)}"

    centre = anywhere()
    for index in range(shape.departments):
        area_id = f"{p}-S{index + 1:02d}"
        name = _DEPARTMENTS[index] if index < len(_DEPARTMENTS) else f"Đơn vị {index + 1}"
        areas.append({"id": area_id, "name": name, "kind": "department", "parent": p})
        lat, lon = spot(*centre, 0.02)
        devices.append(_device(f"vc-{area_id}", "vc", area_id, f"Điểm cầu {name}", lat, lon))

    district_centres: list[tuple[str, tuple[float, float]]] = []
    for index in range(shape.districts):
        area_id = f"{p}-D{index + 1:02d}"
        name = f"Huyện {place_name()}"
        areas.append({"id": area_id, "name": name, "kind": "district", "parent": p})
        where = anywhere()
        district_centres.append((area_id, where))
        lat, lon = spot(*where, 0.01)
        devices.append(_device(f"vc-{area_id}", "vc", area_id, f"Điểm cầu {name}", lat, lon))

    commune_centres: list[tuple[str, tuple[float, float]]] = []
    for index in range(shape.communes):
        if district_centres:
            parent, (dlat, dlon) = district_centres[index % len(district_centres)]
            where = spot(dlat, dlon, 0.06)
            area_id = f"{parent}-C{index + 1:04d}"
        else:
            parent, where = p, anywhere()
            area_id = f"{p}-C{index + 1:04d}"
        name = f"Xã {place_name()}"
        areas.append({"id": area_id, "name": name, "kind": "commune", "parent": parent})
        commune_centres.append((area_id, where))
        gateway = f"gw-{area_id}"
        lat, lon = spot(*where, 0.003)
        devices.append(_device(gateway, "netgw", area_id, f"Cổng mạng {name}", lat, lon))
        lat, lon = spot(*where, 0.003)
        devices.append(
            _device(f"vc-{area_id}", "vc", area_id, f"Điểm cầu {name}", lat, lon, [gateway])
        )

    for index in range(shape.bts_sites):
        area_id, where = commune_centres[rng.randrange(len(commune_centres))]
        lat, lon = spot(*where, 0.02)
        site = f"bts-{p}-{index + 1:05d}"
        devices.append(_device(site, "bts", area_id, f"Trạm BTS {site[4:]}", lat, lon))
    return {"version": 1, "areas": areas, "devices": devices}


def _device(
    device_id: str,
    device_class: str,
    area: str,
    name: str,
    lat: float,
    lon: float,
    depends_on: list[str] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": device_id,
        "class": device_class,
        "area": area,
        "name": name,
        "lat": lat,
        "lon": lon,
    }
    if depends_on:
        document["depends_on"] = depends_on
    return document


def write_inventory(document: dict[str, Any], path: Path) -> None:
    """Write an inventory as JSON (.json) or YAML (anything else)."""
    if path.suffix == ".json":
        path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    else:
        path.write_text(
            yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
