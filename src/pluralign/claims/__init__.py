"""The claims stage: one ledger (`claims.yml`), one verdict engine, one claims.json.

This face only hands on the names chapter 7, the book runner and the tests use, so that
`from pluralign import claims; claims.load_ledger()` works; the code lives in `ledger` (the
ledger's types and parsing), `rules` (the verdict engine), `executed` (glue of executed chapters),
`assess`, `publish` (claims.json) and `report` (chapter 7). The chapters' evidence builders are
submodules imported by name: `evidence` (chapters 5 and 6), `gaps_evidence` and `replication`
(chapter 2).
"""

from pluralign.claims.assess import Assessment, assess, assess_ledger
from pluralign.claims.executed import (
    ExecutedChapter,
    book_dir,
    executed_chapters,
    parse_glued_text,
    read_executed,
)
from pluralign.claims.ledger import (
    CONTRADICTED,
    EVIDENCE,
    INCONCLUSIVE,
    LEDGER_FILE,
    NOT_TESTABLE,
    PIPELINE_CHECK,
    RULE_KINDS,
    SOURCES,
    SUPPORTED,
    VERDICTS,
    Claim,
    ClaimsError,
    Contrast,
    Evidence,
    Ledger,
    Rule,
    ledger_path,
    load_ledger,
    parse_ledger,
    parse_rule,
)
from pluralign.claims.publish import (
    CLAIMS_JSON,
    SCHEMA_FILE,
    claims_document,
    claims_urls,
    safe_sha256,
    schema_path,
    validate_document,
    write_claims_json,
)
from pluralign.claims.report import (
    claims_table,
    evidence_html,
    plot_verdicts,
    replication_table,
    rules_table,
    sources_table,
    verdict_counts,
)
from pluralign.claims.rules import apply_rule, canonical_verdict, verdict_for

__all__ = [
    "CLAIMS_JSON",
    "CONTRADICTED",
    "EVIDENCE",
    "INCONCLUSIVE",
    "LEDGER_FILE",
    "NOT_TESTABLE",
    "PIPELINE_CHECK",
    "RULE_KINDS",
    "SCHEMA_FILE",
    "SOURCES",
    "SUPPORTED",
    "VERDICTS",
    "Assessment",
    "Claim",
    "ClaimsError",
    "Contrast",
    "Evidence",
    "ExecutedChapter",
    "Ledger",
    "Rule",
    "apply_rule",
    "assess",
    "assess_ledger",
    "book_dir",
    "canonical_verdict",
    "claims_document",
    "claims_table",
    "claims_urls",
    "evidence_html",
    "executed_chapters",
    "ledger_path",
    "load_ledger",
    "parse_glued_text",
    "parse_ledger",
    "parse_rule",
    "plot_verdicts",
    "read_executed",
    "replication_table",
    "rules_table",
    "safe_sha256",
    "schema_path",
    "sources_table",
    "validate_document",
    "verdict_counts",
    "verdict_for",
    "write_claims_json",
]
