"""Fixed VHD images: the footer, and the JSON record at the start of a disk.

A managed disk here is a page blob holding a fixed VHD: 1 MiB of data and
the 512-byte footer that the VHD format specification defines (cookie
"conectix", fixed disk type 2, big-endian fields, one's complement
checksum). The first sectors of the data hold a JSON record of the base
image and the artifacts applied, in order, so tests can check what a
captured image contains.
"""

from __future__ import annotations

import json
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SECTOR_BYTES = 512
DATA_BYTES = 1024 * 1024
HEADER_MAX_BYTES = 64 * 1024
DISK_BYTES = DATA_BYTES + SECTOR_BYTES
RECORD_FORMAT = "image-factory-emulator/os-disk/1"

_COOKIE = b"conectix"
_FIXED_DISK = 2
_VHD_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# cookie, features, version, data offset, timestamp, creator app, creator
# version, creator host, original size, current size, geometry (cylinders,
# heads, sectors), disk type, checksum, unique id, saved state.
_FOOTER = struct.Struct(">8sIIQI4sI4sQQHBBII16sB")


class InvalidVhdError(ValueError):
    """The bytes are not a fixed VHD."""


@dataclass(frozen=True)
class VhdFooter:
    current_size: int
    disk_type: int
    unique_id: uuid.UUID


def _geometry(size: int) -> tuple[int, int, int]:
    """Compute cylinders, heads and sectors per track as the VHD specification does."""
    total = min(size // SECTOR_BYTES, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        sectors, heads = 255, 16
        cylinder_heads = total // sectors
    else:
        sectors = 17
        cylinder_heads = total // sectors
        heads = max(4, (cylinder_heads + 1023) // 1024)
        if cylinder_heads >= heads * 1024 or heads > 16:
            sectors, heads = 31, 16
            cylinder_heads = total // sectors
        if cylinder_heads >= heads * 1024:
            sectors, heads = 63, 16
            cylinder_heads = total // sectors
    return cylinder_heads // heads, heads, sectors


def build_footer(data_size: int, unique_id: uuid.UUID, created: datetime) -> bytes:
    if data_size % SECTOR_BYTES:
        raise ValueError(
            f"VHD data size {data_size} is not a multiple of {SECTOR_BYTES}"
        )

    cylinders, heads, sectors = _geometry(data_size)
    timestamp = int((created - _VHD_EPOCH).total_seconds()) & 0xFFFFFFFF
    fields = [
        _COOKIE,
        2,
        0x00010000,
        0xFFFFFFFFFFFFFFFF,
        timestamp,
        b"ifem",
        0x000A0000,
        b"Wi2k",
        data_size,
        data_size,
        cylinders,
        heads,
        sectors,
        _FIXED_DISK,
        0,
        unique_id.bytes,
        0,
    ]
    unsigned = _FOOTER.pack(*fields).ljust(SECTOR_BYTES, b"\0")
    checksum = ~sum(unsigned) & 0xFFFFFFFF
    fields[14] = checksum
    return _FOOTER.pack(*fields).ljust(SECTOR_BYTES, b"\0")


def parse_footer(footer: bytes) -> VhdFooter:
    """Check a fixed VHD footer (the last 512 bytes of the image) and decode it."""
    if len(footer) != SECTOR_BYTES:
        raise InvalidVhdError(
            f"a VHD footer has {SECTOR_BYTES} bytes, got {len(footer)}"
        )

    fields = _FOOTER.unpack_from(footer)
    if fields[0] != _COOKIE:
        raise InvalidVhdError("the footer does not start with the cookie 'conectix'")

    zeroed = bytearray(footer)
    zeroed[64:68] = b"\0\0\0\0"
    if fields[14] != ~sum(zeroed) & 0xFFFFFFFF:
        raise InvalidVhdError("the footer checksum does not match")
    if fields[13] != _FIXED_DISK:
        raise InvalidVhdError(f"disk type {fields[13]} is not a fixed disk (2)")
    return VhdFooter(
        current_size=fields[9],
        disk_type=fields[13],
        unique_id=uuid.UUID(bytes=fields[15]),
    )


def encode_record(record: dict[str, Any]) -> bytes:
    """Encode the disk record as JSON padded with zeros to whole sectors."""
    data = json.dumps({"format": RECORD_FORMAT, **record}, sort_keys=True).encode(
        "utf-8"
    )
    if len(data) >= HEADER_MAX_BYTES:
        raise ValueError(
            f"the disk record has {len(data)} bytes, more than {HEADER_MAX_BYTES}"
        )
    padded = -(-(len(data) + 1) // SECTOR_BYTES) * SECTOR_BYTES
    return data.ljust(padded, b"\0")


def decode_record(data: bytes) -> dict[str, Any] | None:
    """Decode the record at the start of a disk, or return None if there is none."""
    text = data[:HEADER_MAX_BYTES].split(b"\0", 1)[0]
    try:
        record = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        return None
    return record


def build_disk(
    record: dict[str, Any], unique_id: uuid.UUID, created: datetime
) -> bytes:
    """Build a whole fixed VHD: the record, zero fill and the footer."""
    header = encode_record(record)
    return header.ljust(DATA_BYTES, b"\0") + build_footer(
        DATA_BYTES, unique_id, created
    )
