"""The bag as a CASE 1.5 / UCO JSON-LD graph, for tools that speak CASE.

Identifiers are UUIDv5 from the case id and each object's key, so the same case gives the
same graph byte for byte (and ``case_validate`` wants IRIs that end in a UUID). Custody
events are mirrored as ``InvestigativeAction`` nodes chained by ``wasInformedBy``.
case_validate checks shapes, not that hashes match bytes: the verifier cross-checks the
File hashes here against the payload manifests.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

CONTEXT = {
    "kb": "urn:vmforensics:kb:",
    "case-investigation": "https://ontology.caseontology.org/case/investigation/",
    "uco-action": "https://ontology.unifiedcyberontology.org/uco/action/",
    "uco-core": "https://ontology.unifiedcyberontology.org/uco/core/",
    "uco-identity": "https://ontology.unifiedcyberontology.org/uco/identity/",
    "uco-observable": "https://ontology.unifiedcyberontology.org/uco/observable/",
    "uco-tool": "https://ontology.unifiedcyberontology.org/uco/tool/",
    "uco-types": "https://ontology.unifiedcyberontology.org/uco/types/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
ROOT_NS = uuid.UUID("6f0c3a51-6d1e-5b8a-9c43-0d7a2f1e9b55")


@dataclass(frozen=True)
class GraphFile:
    bag_path: str
    size: int
    sha256: str
    sha512: str
    original_path: str | None = None


@dataclass
class GraphInput:
    case_id: str
    bag_name: str
    source_id: str
    source_kind: str
    source_location: str
    examiner: str
    tool_name: str
    tool_version: str
    acquired_start: str | None
    acquired_end: str | None
    source_hashes: dict[str, str] = field(default_factory=dict)
    files: list[GraphFile] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


def _dt(value: str) -> dict[str, str]:
    return {"@type": "xsd:dateTime", "@value": value}


def _int(value: int) -> dict[str, str]:
    return {"@type": "xsd:integer", "@value": str(value)}


class _Ids:
    def __init__(self, case_id: str) -> None:
        self.ns = uuid.uuid5(ROOT_NS, case_id)

    def __call__(self, kind: str, key: str) -> str:
        return f"kb:{kind}-{uuid.uuid5(self.ns, f'{kind}|{key}')}"


def _hashes(ids: _Ids, owner: str, values: dict[str, str]) -> list[dict[str, Any]]:
    names = {"sha256": "SHA256", "sha512": "SHA512", "sha1": "SHA1", "md5": "MD5"}
    out = []
    for alg in sorted(values):
        if alg in names and values[alg]:
            out.append(
                {
                    "@id": ids("hash", f"{owner}|{alg}"),
                    "@type": "uco-types:Hash",
                    "uco-types:hashMethod": names[alg],
                    "uco-types:hashValue": {"@type": "xsd:hexBinary", "@value": values[alg]},
                }
            )
    return out


def build(g: GraphInput) -> bytes:
    ids = _Ids(g.case_id)
    nodes: list[dict[str, Any]] = []
    people: dict[str, str] = {}

    def person(name: str) -> str:
        if name not in people:
            people[name] = ids("person", name)
            nodes.append(
                {"@id": people[name], "@type": "uco-identity:Person", "uco-core:name": name}
            )
        return people[name]

    examiner = person(g.examiner or "unknown examiner")
    tool = ids("tool", f"{g.tool_name}|{g.tool_version}")
    nodes.append(
        {
            "@id": tool,
            "@type": "uco-tool:Tool",
            "uco-core:name": g.tool_name,
            "uco-tool:version": g.tool_version,
            "uco-tool:toolType": "Extraction",
        }
    )
    source = ids("source", g.source_id)
    src_node: dict[str, Any] = {
        "@id": source,
        "@type": "uco-observable:ObservableObject",
        "uco-core:name": f"{g.source_id} ({g.source_kind})",
        "uco-core:description": f"{g.source_kind} source as given: {g.source_location}",
    }
    if g.source_hashes:
        src_node["uco-core:hasFacet"] = [
            {
                "@id": ids("content-facet", f"source|{g.source_id}"),
                "@type": "uco-observable:ContentDataFacet",
                "uco-observable:hash": _hashes(ids, f"source|{g.source_id}", g.source_hashes),
            }
        ]
    nodes.append(src_node)
    exhibit = f"{g.case_id}/{g.source_id}"
    prov_source = ids("provenance", f"source|{g.source_id}")
    nodes.append(
        {
            "@id": prov_source,
            "@type": "case-investigation:ProvenanceRecord",
            "case-investigation:exhibitNumber": exhibit,
            "uco-core:object": [{"@id": source}],
        }
    )
    file_ids = []
    for f in sorted(g.files, key=lambda x: x.bag_path.encode()):
        fid = ids("file", f.bag_path)
        file_ids.append({"@id": fid})
        facets: list[dict[str, Any]] = [
            {
                "@id": ids("file-facet", f.bag_path),
                "@type": "uco-observable:FileFacet",
                "uco-observable:fileName": f.bag_path.rsplit("/", 1)[-1],
                "uco-observable:filePath": f.bag_path,
                "uco-observable:sizeInBytes": _int(f.size),
            },
            {
                "@id": ids("content-facet", f.bag_path),
                "@type": "uco-observable:ContentDataFacet",
                "uco-observable:sizeInBytes": _int(f.size),
                "uco-observable:hash": _hashes(
                    ids, f.bag_path, {"sha256": f.sha256, "sha512": f.sha512}
                ),
            },
        ]
        node: dict[str, Any] = {
            "@id": fid,
            "@type": "uco-observable:File",
            "uco-core:hasFacet": facets,
        }
        if f.original_path is not None:
            node["uco-core:description"] = f"original path: {f.original_path}"
        nodes.append(node)
    prov_bag = ids("provenance", f"bag|{g.bag_name}")
    nodes.append(
        {
            "@id": prov_bag,
            "@type": "case-investigation:ProvenanceRecord",
            "case-investigation:exhibitNumber": g.bag_name,
            "case-investigation:rootExhibitNumber": exhibit,
            "uco-core:object": file_ids,
        }
    )
    actions = []
    acquired = ids("action", f"acquired|{g.source_id}")
    act: dict[str, Any] = {
        "@id": acquired,
        "@type": "case-investigation:InvestigativeAction",
        "uco-core:name": "acquired",
        "uco-action:performer": {"@id": examiner},
        "uco-action:instrument": [{"@id": tool}],
        "uco-action:object": [{"@id": prov_source}, {"@id": source}],
        "uco-action:result": [{"@id": prov_bag}],
    }
    if g.acquired_start:
        act["uco-action:startTime"] = _dt(g.acquired_start)
    if g.acquired_end:
        act["uco-action:endTime"] = _dt(g.acquired_end)
    nodes.append(act)
    actions.append({"@id": acquired})
    previous = acquired
    for ev in g.events:
        aid = ids("action", f"custody|{ev.get('seq')}|{ev.get('prev_sha256')}")
        node = {
            "@id": aid,
            "@type": "case-investigation:InvestigativeAction",
            "uco-core:name": str(ev.get("event", "")),
            "uco-core:description": json.dumps(
                {"seq": ev.get("seq"), "detail": ev.get("detail")},
                sort_keys=True,
                ensure_ascii=False,
            ),
            "uco-action:performer": {"@id": person(str(ev.get("actor") or "unknown"))},
            "case-investigation:wasInformedBy": {"@id": previous},
        }
        if ev.get("time_utc"):
            node["uco-action:startTime"] = _dt(str(ev["time_utc"]))
        if ev.get("event") == "sealed":
            node["uco-action:object"] = [{"@id": prov_bag}]
        nodes.append(node)
        actions.append({"@id": aid})
        previous = aid
    nodes.insert(
        0,
        {
            "@id": ids("investigation", g.case_id),
            "@type": "case-investigation:Investigation",
            "uco-core:name": g.case_id,
            "uco-core:object": actions,
        },
    )
    doc = {"@context": CONTEXT, "@graph": nodes}
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def file_hashes(data: bytes) -> dict[str, dict[str, str]]:
    """bag path -> {"sha256": hex, "sha512": hex} for every File node with a FileFacet path."""
    try:
        doc = json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    out: dict[str, dict[str, str]] = {}
    graph = doc.get("@graph", []) if isinstance(doc, dict) else []
    for node in graph:
        if not isinstance(node, dict) or node.get("@type") != "uco-observable:File":
            continue
        path = None
        hashes: dict[str, str] = {}
        facets = node.get("uco-core:hasFacet", [])
        for facet in facets if isinstance(facets, list) else [facets]:
            if not isinstance(facet, dict):
                continue
            if facet.get("@type") == "uco-observable:FileFacet":
                path = facet.get("uco-observable:filePath")
            hashes_list = facet.get("uco-observable:hash", [])
            for h in hashes_list if isinstance(hashes_list, list) else [hashes_list]:
                if isinstance(h, dict):
                    method = str(h.get("uco-types:hashMethod", "")).lower()
                    value = h.get("uco-types:hashValue", {})
                    value = value.get("@value") if isinstance(value, dict) else value
                    hashes[method] = str(value).lower()
        if isinstance(path, str):
            out[path] = hashes
    return out
