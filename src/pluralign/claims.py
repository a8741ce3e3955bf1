"""The claims ledger: C1–C8 and the book's own findings, their evidence, and their verdicts.

`claims.yml` (project root) is data. Each claim has a statement, a source (`SOURCES`) with a note
on its reliability, the paper's value if it gives one, the metric and how the claim's wording is
read, the evidence per dataset (the chapter, the keys it glues, the figure), and a verdict rule of
one of `RULE_KINDS`. This module validates the ledger, reads the glued values out of the executed
chapters of a book build (`<book>/chapters/*.ipynb`), computes a verdict per claim and dataset
and writes `claims.json`, the machine-readable ledger the site publishes.

A broken link between the ledger and a chapter is an error, never a quiet "not testable": a
chapter in the build must glue each declared key, or a reason key saying why the dataset cannot
test the claim. Only a chapter absent from the build, a dataset the chapter was not run on, or a
reason declared in the ledger gives "not testable" without the chapter saying so.
"""

from __future__ import annotations

import ast
import html
import json
import math
import os
import posixpath
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import yaml

from pluralign.figures import BOOK_DIR_ENV
from pluralign.paths import project_root
from pluralign.provenance import Commit, dataset_sha256, executed_parameters, git_commit

LEDGER_FILE = "claims.yml"
#: The JSON Schema of claims.json, in the project and beside claims.json in the site.
SCHEMA_FILE = Path("schemas") / "claims.schema.json"
CLAIMS_JSON = "claims.json"
CLAIMS_JSON_VERSION = 1

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
INCONCLUSIVE = "inconclusive"
NOT_TESTABLE = "not testable"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE)
#: A chapter's own verdict words (chapter 2 says agrees/disagrees) in the ledger's vocabulary.
CHAPTER_VERDICTS = {
    "agrees": SUPPORTED,
    "disagrees": CONTRADICTED,
    **{verdict: verdict for verdict in VERDICTS},
}

SOURCES = ("paper-abstract", "third-party-summary", "this-study")
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


# --------------------------------------------------------------------------------------------
# The ledger


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
        return f"{self.key_prefix.format(dataset=dataset)}-{self.fields[field_name]}"

    def keys(self, dataset: str) -> dict[str, str]:
        return {name: self.key(name, dataset) for name in self.fields}


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

    @property
    def datasets(self) -> tuple[str, ...]:
        """Every dataset the claim is assessed on, in ledger order."""
        named = [d for e in self.evidence for d in e.datasets] + list(self.not_testable)
        return tuple(dict.fromkeys(named))

    def evidence_for(self, dataset: str) -> Evidence | None:
        for evidence in self.evidence:
            if dataset in evidence.datasets:
                return evidence
        return None

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
        for claim in self.claims:
            if claim.id == claim_id:
                return claim
        raise KeyError(f"no claim {claim_id!r} in the ledger")

    def simulated(self, dataset: str) -> bool:
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
    sources = {
        name: _text(f"{where}: sources.{name}", text)
        for name, text in _keys(f"{where}: sources", data["sources"], set(SOURCES), set()).items()
    }
    if not isinstance(data["claims"], list) or not data["claims"]:
        raise ClaimsError(f"{where}: claims must be a non-empty list")
    claims = []
    for index, entry in enumerate(data["claims"]):
        claims.append(_parse_claim(f"{where}: claims[{index}]", entry, datasets))
    ids = [claim.id for claim in claims]
    if duplicated := sorted({i for i in ids if ids.count(i) > 1}):
        raise ClaimsError(f"{where}: duplicate claim ids {duplicated}")
    return Ledger(ci_level, datasets, sources, tuple(claims))


def _parse_claim(where: str, entry: Any, datasets: Mapping[str, Any]) -> Claim:
    entry = _keys(
        where,
        entry,
        {"id", "statement", "source", "metric", "reading", "rule", "evidence"},
        {"paper_value", "reliability", "format", "unit", "not_testable"},
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
    )


def _parse_evidence(where: str, item: Any, claim_id: str, rule: Rule) -> Evidence:
    from pluralign.figures import check_label

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


# --------------------------------------------------------------------------------------------
# Verdict rules


def apply_rule(
    rule: Rule,
    values: Mapping[str, Any],
    paper_value: float | None,
    show: Callable[[float | None], str] = lambda value: f"{value:+.3g}",
) -> tuple[str, str]:
    """The verdict of `rule` on the glued `values` (fields → numbers), and why, in words.

    Interval bounds are inclusive: an interval that touches the null value contains it.
    """
    if rule.kind == "chapter":
        verdict = canonical_verdict(values["verdict"])
        return verdict, str(values.get("reason") or "the chapter's verdict")
    if rule.kind == "at_least":
        value = float(values["value"])
        met = value >= rule.minimum
        return (
            SUPPORTED if met else rule.otherwise,
            f"{show(value)} {'≥' if met else '<'} {show(rule.minimum)}",
        )
    low, high = float(values["ci_low"]), float(values["ci_high"])
    if low > high:
        raise ClaimsError(f"({low}, {high}) is not an interval: its low end exceeds its high end")
    interval = f"{show(values['value'])} (CI {show(low)} to {show(high)})"
    claimed_positive = rule.direction == "positive"
    if low > rule.null or high < rule.null:
        side_matches = (low > rule.null) == claimed_positive
        verdict = SUPPORTED if side_matches else CONTRADICTED
        reason = (
            f"{interval} lies {'above' if low > rule.null else 'below'} {rule.null:g}, "
            f"{'the claimed side' if side_matches else 'against the claim'}"
        )
    else:
        verdict = INCONCLUSIVE
        reason = f"{interval} contains {rule.null:g}"
    if paper_value is not None:
        inside = low <= paper_value <= high
        reason += f"; the claimed {show(paper_value)} lies {'inside' if inside else 'outside'} it"
        if rule.kind == "sign_and_size" and not inside:
            verdict = CONTRADICTED
    return verdict, reason


def verdict_for(
    claim_id: str,
    value: float,
    ci_low: float | None = None,
    ci_high: float | None = None,
    ledger: Ledger | None = None,
) -> tuple[str, str]:
    """The ledger's verdict on a claim for one dataset's numbers, and why: for chapters that glue
    a `<claim>-<dataset>-verdict`, so that it is the ledger's by construction."""
    claim = (ledger or load_ledger()).claim(claim_id)
    values = {"value": value, "ci_low": ci_low, "ci_high": ci_high}
    return apply_rule(claim.rule, values, claim.paper_value, claim.show)


def canonical_verdict(text: Any) -> str:
    """A chapter's glued verdict in the ledger's words; an unknown word is an error."""
    word = str(text).strip().lower()
    if word not in CHAPTER_VERDICTS:
        raise ClaimsError(
            f"unknown verdict {text!r}: chapters glue one of {sorted(CHAPTER_VERDICTS)}"
        )
    return CHAPTER_VERDICTS[word]


def paper_value_in_interval(paper_value: float | None, values: Mapping[str, Any]) -> bool | None:
    if paper_value is None or "ci_low" not in values or "ci_high" not in values:
        return None
    return bool(float(values["ci_low"]) <= paper_value <= float(values["ci_high"]))


# --------------------------------------------------------------------------------------------
# Glued values of executed chapters


def parse_glued_text(text: str) -> Any:
    """A glued value from its `text/plain` form: Python literals, and nan/inf for floats."""
    stripped = text.strip()
    if stripped in ("nan", "inf", "-inf"):
        return float(stripped)
    try:
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError):
        raise ClaimsError(
            f"cannot read the glued value {stripped[:80]!r}: glue plain Python values "
            "(float(x), int(n), str(s)), never NumPy scalars"
        ) from None


@dataclass
class ExecutedChapter:
    """An executed notebook of the build: its glued outputs and the parameters it ran with."""

    stem: str
    path: Path
    parameters: dict[str, Any]
    glued_text: dict[str, str] = field(default_factory=dict)

    def value(self, key: str) -> Any:
        return parse_glued_text(self.glued_text[key])

    def has(self, key: str) -> bool:
        return key in self.glued_text

    def ran_on(self, dataset: str) -> bool:
        """False only when the chapter has a `datasets` parameter that leaves `dataset` out."""
        datasets = self.parameters.get("datasets")
        return not isinstance(datasets, list) or dataset in datasets


def read_executed(path: Path) -> ExecutedChapter:
    """The glued values (as text) and parameters of one executed chapter."""
    notebook = nbformat.read(path, as_version=4)
    glued: dict[str, str] = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if not record:
                continue
            prefix = record.get("mime_prefix", "")
            text = output.get("data", {}).get(prefix + "text/plain")
            if text is not None:
                glued[record["name"]] = "".join(text) if isinstance(text, list) else text
    return ExecutedChapter(path.stem, path, executed_parameters(notebook), glued)


def book_dir(parameter: str = "") -> Path:
    """The executed book to read: the chapter's `book_dir` parameter if given, else the book
    `pluralign book` is building (`PLURALIGN_BOOK_DIR`), else `_build/book` in the project."""
    if parameter:
        path = Path(parameter)
        return path if path.is_absolute() else project_root() / path
    if env := os.environ.get(BOOK_DIR_ENV):
        return Path(env)
    return project_root() / "_build" / "book"


# --------------------------------------------------------------------------------------------
# Evaluation


@dataclass(frozen=True)
class Assessment:
    """A claim on one dataset: the values, the verdict and why, and where the evidence is."""

    claim: str
    dataset: str
    simulated: bool
    verdict: str
    reason: str
    chapter: str | None
    in_build: bool
    values: Mapping[str, Any]
    keys: Mapping[str, str]
    chapter_verdict: str | None = None
    paper_value_in_ci: bool | None = None
    figure: str | None = None
    results: str | None = None

    @property
    def role(self) -> str:
        return PIPELINE_CHECK if self.simulated else EVIDENCE

    @property
    def page(self) -> str | None:
        """The chapter's page within the site, when the chapter is in the build."""
        return f"chapters/{self.chapter}.html" if self.in_build and self.chapter else None

    @property
    def url(self) -> str | None:
        """The stable URL of the evidence within the site: the page and the figure's anchor."""
        if self.page is None:
            return None
        return f"{self.page}#{self.figure}" if self.figure else self.page

    def shown_value(self, claim: Claim) -> str:
        """The value in the claim's format; a count with its total ("3 of 20")."""
        shown = claim.show(self.number("value"))
        total = self.number("n")
        return f"{shown} of {total:g}" if total is not None and shown != "–" else shown

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None


def assess(
    claim: Claim, dataset: str, chapters: Mapping[str, ExecutedChapter], simulated: bool
) -> Assessment:
    """The verdict on one claim and dataset from the executed chapters of a build."""
    evidence = claim.evidence_for(dataset)
    common = {"claim": claim.id, "dataset": dataset, "simulated": simulated}
    if evidence is None:
        return Assessment(
            **common,
            verdict=NOT_TESTABLE,
            reason=claim.not_testable[dataset],
            chapter=None,
            in_build=False,
            values={},
            keys={},
        )
    keys = evidence.keys(dataset)
    located = {
        **common,
        "chapter": evidence.chapter,
        "keys": keys,
        "figure": evidence.figure,
        "results": evidence.results.format(dataset=dataset) if evidence.results else None,
    }
    executed = chapters.get(evidence.chapter)
    if executed is None:
        return Assessment(
            **located,
            verdict=NOT_TESTABLE,
            reason=f"chapter {evidence.chapter} is not part of this build",
            in_build=False,
            values={},
        )
    if not executed.ran_on(dataset):
        return Assessment(
            **located,
            verdict=NOT_TESTABLE,
            reason=f"this build ran {evidence.chapter} without {dataset} (its datasets parameter)",
            in_build=True,
            values={},
        )
    where = f"{claim.id} on {dataset}: chapter {evidence.chapter}"
    try:
        values = {name: executed.value(key) for name, key in keys.items() if executed.has(key)}
        chapter_verdict = canonical_verdict(values["verdict"]) if "verdict" in values else None
    except ClaimsError as error:
        raise ClaimsError(f"{where}: {error}") from None
    extras = [name for name in keys if name not in STANDARD_FIELDS]
    required = [*RULE_FIELDS[claim.rule.kind], *extras]
    missing = [keys[name] for name in required if name not in values]
    unusable = [
        keys[name]
        for name in required
        if name in values
        and name != "verdict"
        and not (
            isinstance(values[name], int | float)
            and not isinstance(values[name], bool)
            and math.isfinite(values[name])
        )
    ]
    if "n" in values and values["n"] == 0 and not missing:
        return Assessment(
            **located,
            verdict=NOT_TESTABLE,
            reason=str(values.get("reason") or "nothing to count (n = 0)"),
            in_build=True,
            values=values,
            chapter_verdict=chapter_verdict,
        )
    if missing or unusable:
        if chapter_verdict == NOT_TESTABLE or "reason" in values:
            return Assessment(
                **located,
                verdict=NOT_TESTABLE,
                reason=str(values.get("reason") or f"{evidence.chapter} reports it not testable"),
                in_build=True,
                values=values,
                chapter_verdict=chapter_verdict,
            )
        problem = f"glues no {missing}" if missing else f"glues {unusable} without a finite number"
        raise ClaimsError(
            f"{where} {problem}. A chapter in the build must glue every key claims.yml declares "
            f"for each dataset it ran on, or {keys['reason']!r} saying why the dataset cannot "
            "test the claim"
        )
    try:
        verdict, reason = apply_rule(claim.rule, values, claim.paper_value, claim.show)
    except ClaimsError as error:
        raise ClaimsError(f"{where}: {error}") from None
    if chapter_verdict is not None and chapter_verdict != verdict:
        raise ClaimsError(
            f"{where} says {values['verdict']!r} but the ledger's rule ({claim.rule.describe()}) "
            f"gives {verdict!r}: {reason}. The chapter and claims.yml must use the same rule"
        )
    return Assessment(
        **located,
        verdict=verdict,
        reason=reason,
        in_build=True,
        values=values,
        chapter_verdict=chapter_verdict,
        paper_value_in_ci=paper_value_in_interval(claim.paper_value, values)
        if claim.rule.kind in ("sign", "sign_and_size")
        else None,
    )


def executed_chapters(book: Path) -> dict[str, ExecutedChapter]:
    """Every executed chapter of a book build, by stem."""
    return {path.stem: read_executed(path) for path in sorted((book / "chapters").glob("*.ipynb"))}


def evaluate(ledger: Ledger, book: Path) -> list[Assessment]:
    """Every claim on every dataset it names, from the executed chapters in `book`; raises
    `ClaimsError` naming every broken glue key at once."""
    chapters = executed_chapters(book)
    assessments, problems = [], []
    for claim in ledger.claims:
        for dataset in claim.datasets:
            try:
                assessments.append(assess(claim, dataset, chapters, ledger.simulated(dataset)))
            except ClaimsError as error:
                problems.append(str(error))
    if problems:
        raise ClaimsError("\n".join(problems))
    return assessments


# --------------------------------------------------------------------------------------------
# claims.json


def _json_number(value: Any) -> Any:
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
    return (root or project_root()) / SCHEMA_FILE


def validate_document(document: Mapping[str, Any], root: Path | None = None) -> None:
    """Check a claims.json object against the schema; raises `ClaimsError` with the first
    problem's path."""
    import jsonschema

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
    from pluralign.data.sources import DatasetUnavailableError

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
        evaluate(ledger, book),
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


# --------------------------------------------------------------------------------------------
# Chapter 7: tables and the verdict grid


def dataset_label(ledger: Ledger, dataset: str) -> str:
    return f"{dataset} (simulated)" if ledger.simulated(dataset) else dataset


def claims_table(ledger: Ledger) -> pd.DataFrame:
    """One row per claim: statement, source and its reliability, the paper's value, the metric,
    the reading assumption and the verdict rule."""
    rows = []
    for claim in ledger.claims:
        rows.append(
            {
                "claim": claim.id,
                "statement": claim.statement,
                "source": claim.source,
                "paper value": claim.show(claim.paper_value)
                if claim.paper_value is not None
                else "–",
                "metric": claim.metric,
                "reading (assumption)": claim.reading,
                "rule": claim.rule.describe(),
            }
        )
    return pd.DataFrame(rows).set_index("claim")


def sources_table(ledger: Ledger) -> pd.DataFrame:
    """What each source is and how far it can be trusted, and which claims rest on it."""
    return pd.DataFrame(
        [
            {
                "source": source,
                "claims": ", ".join(c.id for c in ledger.claims if c.source == source),
                "reliability": note,
            }
            for source, note in ledger.sources.items()
        ]
    ).set_index("source")


def rules_table() -> pd.DataFrame:
    return pd.DataFrame(
        [{"rule": kind, "verdict": text} for kind, text in RULE_KINDS.items()]
    ).set_index("rule")


def verdict_counts(ledger: Ledger, assessments: Iterable[Assessment]) -> pd.DataFrame:
    """Claims × verdict counts on real datasets (simulated ones are pipeline checks)."""
    rows = [
        {"claim": a.claim, "verdict": a.verdict}
        for a in assessments
        if not ledger.simulated(a.dataset)
    ]
    table = pd.crosstab(
        pd.Categorical([r["claim"] for r in rows], [c.id for c in ledger.claims]),
        pd.Categorical([r["verdict"] for r in rows], list(VERDICTS)),
        dropna=False,
    )
    table.index.name, table.columns.name = "claim", "verdict on real data"
    return table


def evidence_html(
    ledger: Ledger, assessments: Iterable[Assessment], page: str = "chapters/07_claims.html"
) -> str:
    """The ledger as an HTML table: claim × dataset with value, interval, verdict and reason,
    and a link (relative to `page`) to the figure or chapter it comes from."""
    page_dir = posixpath.dirname(page)
    by_claim = {claim.id: claim for claim in ledger.claims}
    rows = []
    for a in assessments:
        claim = by_claim[a.claim]
        interval = (
            f"{claim.show(a.number('ci_low'))} to {claim.show(a.number('ci_high'))}"
            if a.number("ci_low") is not None
            else "–"
        )
        if a.url:
            href = posixpath.relpath(a.url.split("#")[0], page_dir or ".")
            anchor = f"#{a.url.split('#')[1]}" if "#" in a.url else ""
            link = (
                f'<a href="{html.escape(href + anchor)}">{html.escape(a.figure or a.chapter)}</a>'
            )
        elif a.chapter:
            link = html.escape(f"{a.chapter} (not in this build)")
        else:
            link = "–"
        verdict = html.escape(a.verdict)
        if a.simulated and a.verdict != NOT_TESTABLE:
            verdict += " <em>(pipeline check)</em>"
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{cell}</td>"
                for cell in (
                    html.escape(a.claim),
                    html.escape(dataset_label(ledger, a.dataset)),
                    html.escape(a.shown_value(claim)),
                    html.escape(interval),
                    f'<span class="verdict verdict-{a.verdict.replace(" ", "-")}">{verdict}</span>',
                    html.escape(a.reason),
                    link,
                )
            )
            + "</tr>"
        )
    header = "".join(
        f"<th>{name}</th>"
        for name in ("claim", "dataset", "value", "95% CI", "verdict", "why", "evidence")
    )
    return (
        '<table class="claims-ledger"><thead><tr>'
        + header
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


VERDICT_COLOURS = {
    SUPPORTED: "#4c9a6a",
    CONTRADICTED: "#c8553d",
    INCONCLUSIVE: "#e3d9a6",
    NOT_TESTABLE: "#f2f2f2",
}


def plot_verdicts(ledger: Ledger, assessments: Iterable[Assessment]):
    """Claims (rows) × datasets (columns), each cell coloured by its verdict and labelled with
    the value; the simulated dataset's column is marked as a pipeline check."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from pluralign.figures import set_style

    set_style()
    assessments = list(assessments)
    claim_ids = [claim.id for claim in ledger.claims]
    datasets = list(ledger.datasets)
    codes = pd.DataFrame(VERDICTS.index(NOT_TESTABLE), index=claim_ids, columns=datasets)
    labels = pd.DataFrame("", index=claim_ids, columns=datasets)
    by_claim = {claim.id: claim for claim in ledger.claims}
    for a in assessments:
        codes.loc[a.claim, a.dataset] = VERDICTS.index(a.verdict)
        value = a.number("value")
        labels.loc[a.claim, a.dataset] = (
            a.shown_value(by_claim[a.claim])
            if value is not None and a.verdict != NOT_TESTABLE
            else "n/t"
            if a.verdict == NOT_TESTABLE
            else ""
        )
    figure, axis = plt.subplots(figsize=(1.45 * len(datasets) + 1.8, 0.42 * len(claim_ids) + 1.4))
    colours = ListedColormap([VERDICT_COLOURS[v] for v in VERDICTS])
    axis.pcolormesh(
        codes.to_numpy(),
        cmap=colours,
        vmin=-0.5,
        vmax=len(VERDICTS) - 0.5,
        edgecolors="white",
        linewidth=2,
    )
    for row, claim_id in enumerate(claim_ids):
        for column, dataset in enumerate(datasets):
            axis.text(
                column + 0.5,
                row + 0.5,
                labels.loc[claim_id, dataset],
                ha="center",
                va="center",
                fontsize=8,
                color="#222222",
            )
    axis.set_xticks([i + 0.5 for i in range(len(datasets))])
    axis.set_xticklabels(
        [f"{d}\n(simulated:\npipeline check)" if ledger.simulated(d) else d for d in datasets],
        fontsize=8,
    )
    axis.set_yticks([i + 0.5 for i in range(len(claim_ids))])
    axis.set_yticklabels(claim_ids)
    axis.invert_yaxis()
    axis.xaxis.tick_top()
    axis.grid(False)
    axis.legend(
        handles=[Patch(facecolor=VERDICT_COLOURS[v], edgecolor="grey", label=v) for v in VERDICTS],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=len(VERDICTS),
        frameon=False,
        fontsize=8,
    )
    figure.tight_layout()
    return figure
