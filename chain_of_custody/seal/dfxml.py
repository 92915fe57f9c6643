"""A DFXML file inventory of the bag, for tools from the fiwalk / bulk_extractor family."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

NS = "http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML"
DC = "http://purl.org/dc/elements/1.1/"


def _text(value: str) -> str:
    """XML 1.0 cannot hold most control characters; show them as escapes instead."""
    return "".join(c if c in "\t\n" or ord(c) >= 0x20 else f"\\x{ord(c):02x}" for c in value)


@dataclass(frozen=True)
class DfxmlFile:
    bag_path: str
    size: int
    sha256: str
    sha512: str
    mtime: str | None = None


def build(
    *,
    bag_name: str,
    tool_name: str,
    tool_version: str,
    start_time: str,
    source: str,
    files: list[DfxmlFile],
) -> bytes:
    ET.register_namespace("", NS)
    ET.register_namespace("dc", DC)
    root = ET.Element(f"{{{NS}}}dfxml", {"version": "1.2.0"})
    meta = ET.SubElement(root, f"{{{NS}}}metadata")
    ET.SubElement(meta, f"{{{DC}}}type").text = "Sealed evidence bag (BagIt 1.0)"
    ET.SubElement(meta, f"{{{DC}}}identifier").text = _text(bag_name)
    creator = ET.SubElement(root, f"{{{NS}}}creator", {"version": "1.0"})
    ET.SubElement(creator, f"{{{NS}}}program").text = tool_name
    ET.SubElement(creator, f"{{{NS}}}version").text = tool_version
    env = ET.SubElement(creator, f"{{{NS}}}execution_environment")
    ET.SubElement(env, f"{{{NS}}}start_time").text = start_time
    src = ET.SubElement(root, f"{{{NS}}}source")
    ET.SubElement(src, f"{{{NS}}}image_filename").text = _text(source)
    for f in sorted(files, key=lambda x: x.bag_path.encode()):
        fo = ET.SubElement(root, f"{{{NS}}}fileobject")
        ET.SubElement(fo, f"{{{NS}}}filename").text = f.bag_path
        ET.SubElement(fo, f"{{{NS}}}filesize").text = str(f.size)
        ET.SubElement(fo, f"{{{NS}}}meta_type").text = "1"
        if f.mtime:
            ET.SubElement(fo, f"{{{NS}}}mtime").text = f.mtime
        ET.SubElement(fo, f"{{{NS}}}hashdigest", {"type": "sha256"}).text = f.sha256
        ET.SubElement(fo, f"{{{NS}}}hashdigest", {"type": "sha512"}).text = f.sha512
    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
