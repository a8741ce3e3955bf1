"""Publication: claims.json, the machine-readable ledger the site publishes beside its JSON Schema
(`schemas/claims.schema.json`), with every assessment, the commit and the data's checksums."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema

from pluralign.claims.assess import Assessment, assess_ledger
from pluralign.claims.ledger import RULE_KINDS, VERDICTS, ClaimsError, Ledger, load_ledger
from pluralign.data.loaders import dataset_sha256
from pluralign.data.sources import DatasetUnavailableError
from pluralign.paths import project_root
from pluralign.provenance import Commit, git_commit

#: The JSON Schema of claims.json, in the project and beside claims.json in the site.
SCHEMA_FILE = Path("schemas") / "claims.schema.json"
CLAIMS_JSON = "claims.json"
CLAIMS_JSON_VERSION = 1


def _json_number(value: Any) -> Any:
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def claims_document(
    ledger: Ledger,
    assessments: Iterable[Assessment],
    commit: Commit,
    data_sha256: Callable[[str], str | None],
    profile: str | None = None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """The claims.json object (see schemas/claims.schema.json)."""
    by_claim: dict[str, list[Assessment]] = {}
    for assessment in assessments:
        by_claim.setdefault(assessment.claim, []).append(assessment)
    claims = []
    for claim in ledger.claims:
        entries = []
        for assessment in by_claim.get(claim.id, []):
            entries.append(
                {
                    "dataset": assessment.dataset,
                    "simulated": assessment.simulated,
                    "role": assessment.role,
                    "verdict": assessment.verdict,
                    "reason": assessment.reason,
                    "value": assessment.number("value"),
                    "ci_low": assessment.number("ci_low"),
                    "ci_high": assessment.number("ci_high"),
                    "paper_value_in_ci": assessment.paper_value_in_ci,
                    "values": {k: _json_number(v) for k, v in assessment.values.items()},
                    "chapter": assessment.chapter,
                    "in_build": assessment.in_build,
                    "chapter_verdict": assessment.chapter_verdict,
                    "page": assessment.page,
                    "url": assessment.url,
                    "figure": assessment.figure,
                    "figure_files": {
                        extension: f"figures/{assessment.figure}.{extension}"
                        for extension in ("png", "svg", "json")
                    }
                    if assessment.figure and assessment.in_build
                    else None,
                    "glue_keys": dict(assessment.keys),
                    "results": assessment.results,
                    "data_sha256": data_sha256(assessment.dataset) if assessment.in_build else None,
                }
            )
        claims.append(
            {
                "id": claim.id,
                "statement": claim.statement,
                "source": claim.source,
                "reliability": " ".join(
                    part for part in (ledger.sources[claim.source], claim.reliability) if part
                ),
                "paper_value": claim.paper_value,
                "metric": claim.metric,
                "reading": claim.reading,
                "unit": claim.unit or None,
                "rule": {
                    "kind": claim.rule.kind,
                    "direction": claim.rule.direction,
                    "null": claim.rule.null,
                    "minimum": claim.rule.minimum,
                    "otherwise": claim.rule.otherwise if claim.rule.kind == "at_least" else None,
                    "text": RULE_KINDS[claim.rule.kind],
                },
                "evidence": entries,
            }
        )
    return {
        "$schema": SCHEMA_FILE.name,
        "version": CLAIMS_JSON_VERSION,
        "paper": {
            "arxiv": "2511.14476",
            "url": "https://arxiv.org/abs/2511.14476",
            "title": "Operationalizing Pluralistic Values in Large Language Model Alignment "
            "Reveals Trade-offs in Safety, Inclusivity, and Model Behavior",
        },
        "commit": commit.as_json(),
        "built_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "profile": profile,
        "base_url": base_url,
        "ci_level": ledger.ci_level,
        "verdicts": list(VERDICTS),
        "rule_kinds": dict(RULE_KINDS),
        "datasets": {
            name: {"simulated": entry["simulated"], "description": entry["description"]}
            for name, entry in ledger.datasets.items()
        },
        "claims": claims,
    }


def schema_path(root: Path | None = None) -> Path:
    """Where claims.json's JSON Schema is: in the project root, or in `root`."""
    return (root or project_root()) / SCHEMA_FILE


def validate_document(document: Mapping[str, Any], root: Path | None = None) -> None:
    """Check a claims.json object against the schema; raises `ClaimsError` with the first
    problem's path."""
    schema = json.loads(schema_path(root).read_text())
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        raise ClaimsError(
            f"claims.json does not match its schema at {where}: {error.message}"
        ) from None


def safe_sha256(name: str) -> str | None:
    """A dataset's sha256, or None when its files are not available here."""
    try:
        return dataset_sha256(name)
    except (DatasetUnavailableError, FileNotFoundError):
        return None


def write_claims_json(
    html_dir: Path,
    book: Path,
    ledger: Ledger | None = None,
    commit: Commit | None = None,
    profile: str | None = None,
    base_url: str | None = None,
) -> dict[str, Any]:
    """Evaluate the ledger on the executed book, validate, and write `<html>/claims.json` and its
    schema beside it; returns the document."""
    ledger = ledger or load_ledger()
    document = claims_document(
        ledger,
        assess_ledger(ledger, book),
        commit or git_commit(),
        safe_sha256,
        profile=profile,
        base_url=base_url,
    )
    validate_document(document)
    html_dir.mkdir(parents=True, exist_ok=True)
    (html_dir / CLAIMS_JSON).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    (html_dir / SCHEMA_FILE.name).write_text(schema_path().read_text())
    return document


def claims_urls(document: Mapping[str, Any]) -> list[str]:
    """Every site-relative URL claims.json points at (pages with anchors, figure files)."""
    urls = []
    for claim in document["claims"]:
        for entry in claim["evidence"]:
            if entry["url"]:
                urls.append(entry["url"])
            urls.extend((entry["figure_files"] or {}).values())
    return list(dict.fromkeys(urls))
