"""The claims ledger: C1–C8 and the book's own findings, their evidence, and how each is judged.

`claims.yml` (project root) is data, and the one home of every claim fact. Each claim has a
statement, a source (`SOURCES`) with a note on its reliability, the paper's value if it gives one,
the metric and how the claim's wording is read, the groups it compares (`contrast`, and the rated
`dimension` for a rating gap), the evidence per dataset (the chapter, the keys it glues, the
figure), and a verdict rule of one of `RULE_KINDS`. This module reads and validates the ledger into
the `Ledger`, `Claim`, `Evidence` and `Rule` types; `rules` judges, `assess` reads the executed
chapters, `publish` writes claims.json and `report` draws chapter 7.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pluralign.labels import check_label
from pluralign.paths import project_root

LEDGER_FILE = "claims.yml"

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive"
NOT_TESTABLE = "not testable"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE)

SOURCES = ("paper-abstract", "third-party-summary", "this-study", "original-paper")
#: Sources a ledger may leave undescribed when no claim uses them (ledgers older than the
#: published findings of the rating datasets, issue 17, have no `original-paper`).
OPTIONAL_SOURCES = frozenset({"original-paper"})
#: Every verdict rule the ledger may use, with what it decides; `apply_rule` implements them.
RULE_KINDS = {
    "sign": (
        "supported when the interval lies entirely on the claimed side of the null value "
        "(default 0), contradicted when it lies entirely on the other side, inconclusive when it "
        "contains the null value"
    ),
    "sign_and_size": (
        "supported when the interval excludes the null value on the claimed side and contains "
        "the paper's value; contradicted when it lies on the other side of the null value or "
        "excludes the paper's value; inconclusive otherwise"
    ),
    "at_least": (
        "a point value, such as a count: supported when it is at least the minimum, otherwise "
        "the rule's `otherwise` verdict (inconclusive unless stated: not finding something does "
        "not show it is absent); a glued n of 0 (nothing to count) is not testable"
    ),
    "chapter": "the chapter computes the verdict and glues it (tests that are not an interval)",
}
#: The glued fields each rule kind needs.
RULE_FIELDS = {
    "sign": ("value", "ci_low", "ci_high"),
    "sign_and_size": ("value", "ci_low", "ci_high"),
    "at_least": ("value",),
    "chapter": ("verdict",),
}
STANDARD_FIELDS = ("value", "ci_low", "ci_high", "verdict", "reason")
PIPELINE_CHECK = "pipeline check (simulated data, not evidence about people)"
EVIDENCE = "evidence"


class ClaimsError(ValueError):
    """The ledger is malformed, or a chapter in the build lacks a value the ledger names."""


@dataclass(frozen=True)
class Rule:
    """A verdict rule: one of `RULE_KINDS` and its parameters."""

    kind: str
    direction: str | None = None
    null: float = 0.0
    minimum: float | None = None
    otherwise: str = INCONCLUSIVE

    def describe(self) -> str:
        """The rule in words, with its parameters."""
        side = f"{'above' if self.direction == 'positive' else 'below'} {self.null:g}"
        if self.kind == "sign":
            return f"sign: supported when the interval lies {side}"
        if self.kind == "sign_and_size":
            return f"sign and size: supported when the interval lies {side} and holds the claim"
        if self.kind == "at_least":
            return f"at least {self.minimum:g} (otherwise {self.otherwise})"
        return "the chapter's own verdict"


@dataclass(frozen=True)
class Evidence:
    """Where one chapter gives a claim's evidence on some datasets: the keys it glues
    (`key_prefix`-`suffix`, the prefix templated with `{dataset}`), and the figure to cite."""

    chapter: str
    datasets: tuple[str, ...]
    key_prefix: str
    fields: Mapping[str, str]
    figure: str | None = None
    results: str | None = None

    def key(self, field_name: str, dataset: str) -> str:
        """The glue key of one field on one dataset."""
        return f"{self.key_prefix.format(dataset=dataset)}-{self.fields[field_name]}"

    def keys(self, dataset: str) -> dict[str, str]:
        """Every field's glue key on one dataset."""
        return {name: self.key(name, dataset) for name in self.fields}


@dataclass(frozen=True)
class Contrast:
    """The two groups a claim compares, oriented as the claim states them: its value is group_a's
    relative to group_b's (C1: male vs female; C8a: liberal-tuned vs conservative-tuned models)."""

    group_a: str
    group_b: str


@dataclass(frozen=True)
class Stratum:
    """The kind of item a claim is about: the rows whose item-level column `field` (`item_*`)
    holds `value` (Sap et al.'s "posts in African American English": item_is_aae = true)."""

    field: str
    value: str


@dataclass(frozen=True)
class Claim:
    """One entry of the ledger."""

    id: str
    statement: str
    source: str
    metric: str
    reading: str
    rule: Rule
    evidence: tuple[Evidence, ...]
    not_testable: Mapping[str, str]
    paper_value: float | None = None
    reliability: str = ""
    format: str = "+.3f"
    unit: str = ""
    contrast: Contrast | None = None
    dimension: str | None = None
    stratum: Stratum | None = None

    @property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset the claim is assessed on, in ledger order."""
        named = [d for e in self.evidence for d in e.datasets] + list(self.not_testable)
        return tuple(dict.fromkeys(named))

    def evidence_for(self, dataset: str) -> Evidence | None:
        """The evidence entry that names `dataset`, if any."""
        for evidence in self.evidence:
            if dataset in evidence.datasets:
                return evidence
        return None

    def evidence_in(self, chapter: str) -> Evidence | None:
        """The evidence entry of `chapter`, if the claim has one there."""
        for evidence in self.evidence:
            if evidence.chapter == chapter:
                return evidence
        return None

    def glued_by(self, chapter: str, dataset: str) -> bool:
        """Whether the ledger expects `chapter` to glue this claim's evidence on `dataset`."""
        evidence = self.evidence_for(dataset)
        return evidence is not None and evidence.chapter == chapter

    def show(self, value: float | None) -> str:
        """A value in the claim's format and unit ("–" when there is none)."""
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "–"
        number = int(value) if self.format.endswith("d") else value
        return f"{number:{self.format}}{self.unit}"


@dataclass(frozen=True)
class Ledger:
    """The validated ledger: datasets, source reliability notes, claims."""

    ci_level: float
    datasets: Mapping[str, Mapping[str, Any]]
    sources: Mapping[str, str]
    claims: tuple[Claim, ...]

    def claim(self, claim_id: str) -> Claim:
        """The claim with this id; a `KeyError` when the ledger has none."""
        for claim in self.claims:
            if claim.id == claim_id:
                return claim
        raise KeyError(f"no claim {claim_id!r} in the ledger")

    def simulated(self, dataset: str) -> bool:
        """Whether the ledger marks `dataset` as simulated (a pipeline check, not evidence)."""
        return bool(self.datasets[dataset]["simulated"])


def _keys(where: str, data: Any, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ClaimsError(f"{where}: expected a mapping, got {type(data).__name__}")
    missing = required - set(data)
    unknown = set(data) - required - optional
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing {sorted(missing)}")
        if unknown:
            problems.append(f"unknown {sorted(unknown)} (known: {sorted(required | optional)})")
        raise ClaimsError(f"{where}: {'; '.join(problems)}")
    return data


def _text(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ClaimsError(f"{where}: expected non-empty text, got {value!r}")
    return " ".join(value.split())


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ClaimsError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def parse_rule(where: str, data: Any, paper_value: float | None) -> Rule:
    """A rule mapping as `Rule`, checked against its kind (and the paper's value)."""
    data = _keys(where, data, {"kind"}, {"direction", "null", "minimum", "otherwise"})
    kind = data["kind"]
    if kind not in RULE_KINDS:
        raise ClaimsError(f"{where}: unknown rule kind {kind!r}; kinds: {sorted(RULE_KINDS)}")
    allowed = {
        "sign": {"direction", "null"},
        "sign_and_size": {"direction", "null"},
        "at_least": {"minimum", "otherwise"},
        "chapter": set(),
    }[kind]
    if stray := set(data) - {"kind"} - allowed:
        raise ClaimsError(f"{where}: {kind} takes no {sorted(stray)}")
    rule = Rule(
        kind=kind,
        direction=data.get("direction"),
        null=_number(f"{where}.null", data.get("null", 0.0)),
        minimum=_number(f"{where}.minimum", data["minimum"]) if "minimum" in data else None,
        otherwise=data.get("otherwise", INCONCLUSIVE),
    )
    if kind in ("sign", "sign_and_size"):
        if rule.direction not in ("positive", "negative"):
            raise ClaimsError(f"{where}: direction must be positive or negative")
        if paper_value is not None and (paper_value > rule.null) != (rule.direction == "positive"):
            raise ClaimsError(
                f"{where}: the paper's value {paper_value:g} is not on the {rule.direction} side "
                f"of {rule.null:g}"
            )
    if kind == "sign_and_size" and paper_value is None:
        raise ClaimsError(f"{where}: sign_and_size needs the claim's paper_value")
    if kind == "at_least":
        if rule.minimum is None:
            raise ClaimsError(f"{where}: at_least needs a minimum")
        if rule.otherwise not in (CONTRADICTED, INCONCLUSIVE):
            raise ClaimsError(f"{where}: otherwise must be contradicted or inconclusive")
    return rule


def parse_ledger(data: Any, where: str = LEDGER_FILE) -> Ledger:
    """Validate a parsed ledger and build the dataclasses; every problem names its place."""
    data = _keys(where, data, {"ci_level", "datasets", "sources", "claims"}, set())
    ci_level = _number(f"{where}: ci_level", data["ci_level"])
    if not isinstance(data["datasets"], dict) or not data["datasets"]:
        raise ClaimsError(f"{where}: datasets must map each dataset name to its entry")
    datasets = {}
    for name, entry in data["datasets"].items():
        entry = _keys(f"{where}: datasets.{name}", entry, {"simulated", "description"}, set())
        if not isinstance(entry["simulated"], bool):
            raise ClaimsError(f"{where}: datasets.{name}.simulated must be true or false")
        datasets[name] = {
            "simulated": entry["simulated"],
            "description": _text(f"{where}: datasets.{name}.description", entry["description"]),
        }
    required_sources = set(SOURCES) - OPTIONAL_SOURCES
    sources = {
        name: _text(f"{where}: sources.{name}", text)
        for name, text in _keys(
            f"{where}: sources", data["sources"], required_sources, set(OPTIONAL_SOURCES)
        ).items()
    }
    if not isinstance(data["claims"], list) or not data["claims"]:
        raise ClaimsError(f"{where}: claims must be a non-empty list")
    claims = []
    for index, entry in enumerate(data["claims"]):
        claims.append(_parse_claim(f"{where}: claims[{index}]", entry, datasets))
    if undescribed := sorted({claim.source for claim in claims} - set(sources)):
        raise ClaimsError(f"{where}: sources must describe {undescribed}, which claims use")
    ids = [claim.id for claim in claims]
    if duplicated := sorted({i for i in ids if ids.count(i) > 1}):
        raise ClaimsError(f"{where}: duplicate claim ids {duplicated}")
    return Ledger(ci_level, datasets, sources, tuple(claims))


def _parse_claim(where: str, entry: Any, datasets: Mapping[str, Any]) -> Claim:
    entry = _keys(
        where,
        entry,
        {"id", "statement", "source", "metric", "reading", "rule", "evidence"},
        {
            "paper_value",
            "reliability",
            "format",
            "unit",
            "not_testable",
            "contrast",
            "dimension",
            "stratum",
        },
    )
    claim_id = _text(f"{where}.id", entry["id"])
    where = f"{where} ({claim_id})"
    if entry["source"] not in SOURCES:
        raise ClaimsError(f"{where}: source must be one of {SOURCES}, got {entry['source']!r}")
    paper_value = entry.get("paper_value")
    if paper_value is not None:
        paper_value = _number(f"{where}.paper_value", paper_value)
    rule = parse_rule(f"{where}.rule", entry["rule"], paper_value)
    format_spec = entry.get("format", "+.3f")
    try:
        format(1 if format_spec.endswith("d") else 1.0, format_spec)
    except (ValueError, TypeError):
        raise ClaimsError(f"{where}: format {format_spec!r} is not a format spec") from None
    if not isinstance(entry["evidence"], list) or not entry["evidence"]:
        raise ClaimsError(f"{where}: evidence must be a non-empty list")
    evidence = tuple(
        _parse_evidence(f"{where}.evidence[{index}]", item, claim_id, rule)
        for index, item in enumerate(entry["evidence"])
    )
    not_testable = {
        name: _text(f"{where}.not_testable.{name}", reason)
        for name, reason in (entry.get("not_testable") or {}).items()
    }
    contrast = None
    if "contrast" in entry:
        groups = _keys(f"{where}.contrast", entry["contrast"], {"group_a", "group_b"}, set())
        contrast = Contrast(
            _text(f"{where}.contrast.group_a", groups["group_a"]),
            _text(f"{where}.contrast.group_b", groups["group_b"]),
        )
    dimension = _text(f"{where}.dimension", entry["dimension"]) if "dimension" in entry else None
    if dimension is not None and contrast is None:
        raise ClaimsError(f"{where}: a dimension needs the contrast whose groups rated it")
    stratum = None
    if "stratum" in entry:
        if dimension is None:
            raise ClaimsError(f"{where}: a stratum needs the dimension its items were rated on")
        items = _keys(f"{where}.stratum", entry["stratum"], {"field", "value"}, set())
        field_name = _text(f"{where}.stratum.field", items["field"])
        if not field_name.startswith("item_"):
            raise ClaimsError(f"{where}.stratum.field: {field_name!r} is not an item_* column")
        stratum = Stratum(field_name, _text(f"{where}.stratum.value", str(items["value"])))
    named = [d for item in evidence for d in item.datasets] + list(not_testable)
    if unknown := sorted(set(named) - set(datasets)):
        raise ClaimsError(f"{where}: unknown datasets {unknown}; the ledger's: {list(datasets)}")
    if twice := sorted({d for d in named if named.count(d) > 1}):
        raise ClaimsError(f"{where}: datasets named twice (evidence or not_testable): {twice}")
    return Claim(
        id=claim_id,
        statement=_text(f"{where}.statement", entry["statement"]),
        source=entry["source"],
        metric=_text(f"{where}.metric", entry["metric"]),
        reading=_text(f"{where}.reading", entry["reading"]),
        rule=rule,
        evidence=evidence,
        not_testable=not_testable,
        paper_value=paper_value,
        reliability=_text(f"{where}.reliability", entry["reliability"])
        if "reliability" in entry
        else "",
        format=format_spec,
        unit=str(entry.get("unit", "")),
        contrast=contrast,
        dimension=dimension,
        stratum=stratum,
    )


def _parse_evidence(where: str, item: Any, claim_id: str, rule: Rule) -> Evidence:
    item = _keys(
        where, item, {"chapter", "datasets"}, {"figure", "key_prefix", "fields", "results"}
    )
    chapter = _text(f"{where}.chapter", item["chapter"])
    if not (len(chapter) > 3 and chapter[:2].isdigit() and chapter[2] == "_"):
        raise ClaimsError(
            f"{where}: chapter {chapter!r} must be a chapter stem like 02_rating_gaps"
        )
    figure = item.get("figure")
    if figure is not None:
        try:
            number = check_label(figure)
        except ValueError as error:
            raise ClaimsError(f"{where}: {error}") from None
        if number != int(chapter[:2]):
            raise ClaimsError(f"{where}: figure {figure} is not a figure of chapter {chapter}")
    names = item["datasets"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ClaimsError(f"{where}: datasets must be a non-empty list of dataset names")
    prefix = item.get("key_prefix", f"{claim_id.lower()}-{{dataset}}")
    if "{dataset}" not in prefix:
        raise ClaimsError(f"{where}: key_prefix {prefix!r} must contain {{dataset}}")
    fields = {name: name for name in STANDARD_FIELDS}
    declared = item.get("fields") or {}
    if not isinstance(declared, dict):
        raise ClaimsError(f"{where}: fields must map a field to its key suffix")
    fields.update({str(name): str(suffix) for name, suffix in declared.items()})
    for needed in RULE_FIELDS[rule.kind]:
        if needed not in fields:
            raise ClaimsError(f"{where}: rule {rule.kind} needs field {needed!r}")
    return Evidence(
        chapter=chapter,
        datasets=tuple(names),
        key_prefix=prefix,
        fields=fields,
        figure=figure,
        results=item.get("results"),
    )


def ledger_path(root: Path | None = None) -> Path:
    """Where `claims.yml` is: in the project root, or in `root`."""
    return (root or project_root()) / LEDGER_FILE


def load_ledger(path: Path | str | None = None) -> Ledger:
    """Read and validate `claims.yml` (a relative path is taken from the project root)."""
    path = Path(path) if path else ledger_path()
    if not path.is_absolute():
        path = project_root() / path
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ClaimsError(f"{path.name}: not valid YAML: {error}") from None
    return parse_ledger(data, path.name)
