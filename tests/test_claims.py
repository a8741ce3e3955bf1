"""The claims ledger: claims.yml is complete and consistent, the verdict rules decide as
documented, a broken glue key fails the build, and claims.json matches its schema."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import nbformat
import pytest
import yaml

from pluralign import claims
from pluralign.book.runner import BookBuildError, check_executed_book
from pluralign.claims import gaps_evidence
from pluralign.data.loaders import dataset_sha256
from pluralign.gaps.contrasts import contrast_between
from pluralign.provenance import Commit, executed_parameters

GLUE_PREFIX = "application/papermill.record/"


def glued_output(name: str, text: str) -> nbformat.NotebookNode:
    """An output cell as myst_nb's `glue(name, value, display=False)` leaves it."""
    return nbformat.v4.new_output(
        "display_data",
        data={GLUE_PREFIX + "text/plain": text},
        metadata={"scrapbook": {"name": name, "mime_prefix": GLUE_PREFIX}},
    )


def write_executed(
    book: Path,
    stem: str,
    glued: dict[str, str],
    parameters: str = 'datasets: list[str] = ["popquorn"]  # datasets',
    injected: dict | None = None,
    markdown: str = "",
) -> Path:
    """A doctored executed chapter in `book/chapters/`: a parameters cell, glued outputs."""
    notebook = nbformat.v4.new_notebook()
    parameters_cell = nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})
    work = nbformat.v4.new_code_cell("glue(...)")
    work.outputs = [glued_output(name, text) for name, text in glued.items()]
    notebook.cells = [parameters_cell, work, nbformat.v4.new_markdown_cell(markdown)]
    notebook.metadata["papermill"] = {"parameters": injected or {}}
    path = book / "chapters" / f"{stem}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


MINIMAL = {
    "ci_level": 0.95,
    "datasets": {
        "popquorn": {"simulated": False, "description": "real raters"},
        "study-sim": {"simulated": True, "description": "simulated raters"},
    },
    "sources": {
        "paper-abstract": "the abstract",
        "third-party-summary": "a summary",
        "this-study": "this book",
    },
    "claims": [
        {
            "id": "C9",
            "statement": "Group A rated lower than group B.",
            "source": "paper-abstract",
            "paper_value": -0.2,
            "metric": "relative gap",
            "reading": "(a - b) / b",
            "format": "+.1%",
            "rule": {"kind": "sign", "direction": "negative"},
            "evidence": [
                {
                    "chapter": "05_group_models",
                    "figure": "fig-05-gaps",
                    "datasets": ["popquorn", "study-sim"],
                }
            ],
        }
    ],
}


def minimal_ledger(**changes) -> claims.Ledger:
    data = copy.deepcopy(MINIMAL)
    data["claims"][0].update(changes)
    return claims.parse_ledger(data)


# --------------------------------------------------------------------------------------------
# The project's ledger


@pytest.fixture(scope="module")
def ledger() -> claims.Ledger:
    return claims.load_ledger()


def test_every_claim_is_assessed_on_every_dataset_with_evidence_or_a_reason(ledger):
    for claim in ledger.claims:
        assert set(claim.datasets) == set(ledger.datasets), claim.id
        for dataset in claim.datasets:
            evidence = claim.evidence_for(dataset)
            assert (evidence is None) != (dataset not in claim.not_testable), (claim.id, dataset)


def test_the_ledger_has_the_papers_claims_c8_and_the_books_findings(ledger):
    ids = [claim.id for claim in ledger.claims]
    assert ids[:7] == ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]
    assert {"C8a", "C8b", "C8c", "P1", "P2"} <= set(ids)
    sources = {claim.id: claim.source for claim in ledger.claims}
    assert all(sources[f"C{n}"] == "paper-abstract" for n in range(1, 8))
    assert all(sources[f"C8{part}"] == "third-party-summary" for part in "abc")
    assert sources["P1"] == sources["P2"] == "this-study"
    assert "never saw the paper" in ledger.sources["third-party-summary"]
    assert ledger.simulated("study-sim") and not ledger.simulated("popquorn")


def test_rating_gap_claims_name_a_contrast_chapter_2_compares(ledger):
    """C1–C3 are chapter 2's rating-gap claims; each names a dimension and a contrast of chapter
    2's gap table in the paper's orientation, with a sign rule on the paper's side."""
    gap_claims = gaps_evidence.gap_claims(ledger)
    assert [claim.id for claim in gap_claims] == ["C1", "C2", "C3"]
    for claim in gap_claims:
        assert contrast_between(claim.contrast.group_a, claim.contrast.group_b) is not None
        assert claim.rule.kind == "sign"
        assert (claim.rule.direction == "positive") == (claim.paper_value > 0)
        evidence = claim.evidence_for("popquorn")
        assert evidence.chapter == "02_rating_gaps"
        assert evidence.key("value", "popquorn") == f"{claim.id}-popquorn-relative_gap"


def test_c8_claims_name_the_groups_chapter_5_compares(ledger):
    """C8a–c's groups come from claims.yml; POPQUORN, which records no political leaning, is
    declared not testable for C8a, so chapter 5 does not glue it."""
    groups = {c.id: (c.contrast.group_a, c.contrast.group_b) for c in ledger.claims if c.contrast}
    assert groups["C8a"] == ("liberal", "conservative")
    assert groups["C8b"] == ("white", "black")
    assert groups["C8c"] == ("female", "male")
    assert not ledger.claim("C8a").glued_by("05_group_models", "popquorn")
    assert ledger.claim("C8b").glued_by("05_group_models", "popquorn")


def test_a_dimension_needs_a_contrast():
    with pytest.raises(claims.ClaimsError, match="needs the contrast"):
        minimal_ledger(dimension="toxicity")
    claim = minimal_ledger(
        contrast={"group_a": "male", "group_b": "female"}, dimension="toxicity"
    ).claims[0]
    assert claim.contrast == claims.Contrast("male", "female")


def test_declared_figures_are_labelled_in_their_chapters(ledger, project_root):
    for claim in ledger.claims:
        for evidence in claim.evidence:
            path = project_root / "chapters" / f"{evidence.chapter}.ipynb"
            if evidence.figure and path.is_file():
                assert f":name: {evidence.figure}" in path.read_text().replace('\\n"', ""), (
                    claim.id,
                    evidence.figure,
                )


def test_default_glue_keys_follow_the_convention(ledger):
    evidence = ledger.claim("C5").evidence_for("popquorn")
    assert evidence.keys("popquorn") == {
        "value": "c5-popquorn-value",
        "ci_low": "c5-popquorn-ci_low",
        "ci_high": "c5-popquorn-ci_high",
        "verdict": "c5-popquorn-verdict",
        "reason": "c5-popquorn-reason",
    }
    assert ledger.claim("P1").evidence_for("sbic").key("n", "sbic") == "p1-sbic-n"


# --------------------------------------------------------------------------------------------
# Validation of a ledger


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown ['colour']"),
        ({"source": "a blog"}, "source must be one of"),
        ({"rule": {"kind": "vibes"}}, "unknown rule kind"),
        ({"rule": {"kind": "sign", "direction": "positive"}}, "not on the positive side"),
        ({"rule": {"kind": "sign", "direction": "up"}}, "direction must be positive or negative"),
        ({"rule": {"kind": "at_least"}}, "at_least needs a minimum"),
        ({"rule": {"kind": "sign", "direction": "negative", "minimum": 1}}, "sign takes no"),
        (
            {"paper_value": None, "rule": {"kind": "sign_and_size", "direction": "negative"}},
            "needs the claim's paper_value",
        ),
        ({"not_testable": {"popquorn": "no data"}}, "datasets named twice"),
        ({"not_testable": {"dices": "no data"}}, "unknown datasets ['dices']"),
        ({"format": "%%"}, "is not a format spec"),
    ],
)
def test_a_malformed_claim_is_refused_with_its_place(change, message):
    with pytest.raises(claims.ClaimsError, match="claims\\[0\\]") as error:
        minimal_ledger(**change)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("evidence", "message"),
    [
        ({"chapter": "group_models"}, "must be a chapter stem"),
        ({"figure": "fig-02-gaps"}, "is not a figure of chapter 05_group_models"),
        ({"figure": "Figure 2"}, "must read fig-<two-digit chapter>-<what>"),
        ({"key_prefix": "c9"}, "must contain {dataset}"),
        ({"datasets": []}, "non-empty list"),
    ],
)
def test_malformed_evidence_is_refused(evidence, message):
    item = {**MINIMAL["claims"][0]["evidence"][0], **evidence}
    with pytest.raises(claims.ClaimsError, match="evidence\\[0\\]") as error:
        minimal_ledger(evidence=[item])
    assert message in str(error.value)


def test_duplicate_claim_ids_are_refused():
    data = copy.deepcopy(MINIMAL)
    data["claims"].append(copy.deepcopy(data["claims"][0]))
    with pytest.raises(claims.ClaimsError, match="duplicate claim ids \\['C9'\\]"):
        claims.parse_ledger(data)


# --------------------------------------------------------------------------------------------
# Verdict rules


def interval(value: float, low: float, high: float) -> dict[str, float]:
    return {"value": value, "ci_low": low, "ci_high": high}


@pytest.mark.parametrize(
    ("direction", "low", "high", "expected"),
    [
        ("negative", -0.3, -0.1, claims.SUPPORTED),
        ("negative", 0.1, 0.3, claims.CONTRADICTED),
        ("negative", -0.1, 0.1, claims.INCONCLUSIVE),
        ("negative", -0.2, 0.0, claims.INCONCLUSIVE),  # touching the null value contains it
        ("positive", 0.1, 0.3, claims.SUPPORTED),
        ("positive", -0.3, -0.1, claims.CONTRADICTED),
    ],
)
def test_sign_rule(direction, low, high, expected):
    rule = claims.Rule("sign", direction=direction)
    verdict, reason = claims.apply_rule(rule, interval((low + high) / 2, low, high), None)
    assert verdict == expected
    assert ("contains" in reason) == (expected == claims.INCONCLUSIVE)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.3, 0.7, claims.SUPPORTED),  # excludes 0 on the claimed side, contains 0.5
        (0.1, 0.3, claims.CONTRADICTED),  # right side, but the claimed size is excluded
        (-0.4, -0.1, claims.CONTRADICTED),  # wrong side
        (-0.1, 0.6, claims.INCONCLUSIVE),  # contains both 0 and 0.5
        (-0.1, 0.3, claims.CONTRADICTED),  # contains 0, excludes 0.5
    ],
)
def test_sign_and_size_rule(low, high, expected):
    rule = claims.Rule("sign_and_size", direction="positive")
    verdict, _ = claims.apply_rule(rule, interval((low + high) / 2, low, high), 0.5)
    assert verdict == expected


def test_at_least_and_chapter_rules():
    rule = claims.Rule("at_least", minimum=1)
    assert claims.apply_rule(rule, {"value": 3}, None)[0] == claims.SUPPORTED
    assert claims.apply_rule(rule, {"value": 0}, None)[0] == claims.INCONCLUSIVE
    strict = claims.Rule("at_least", minimum=1, otherwise=claims.CONTRADICTED)
    assert claims.apply_rule(strict, {"value": 0}, None)[0] == claims.CONTRADICTED
    chapter = claims.Rule("chapter")
    assert claims.apply_rule(chapter, {"verdict": " Supported"}, None)[0] == claims.SUPPORTED
    for word in ("probably", "agrees"):  # chapters speak the ledger's words, nothing else
        with pytest.raises(claims.ClaimsError, match="unknown verdict"):
            claims.apply_rule(chapter, {"verdict": word}, None)


def test_chapters_can_ask_the_ledger_for_its_verdict():
    verdict, reason = claims.verdict_for("C8a", 2.0, 1.0, 3.0)
    assert verdict == claims.CONTRADICTED  # the right side, but 5.0 pp lies outside the interval
    assert "+5.0 pp lies outside it" in reason
    assert claims.verdict_for("C5", 0.4, 0.1, 0.7)[0] == claims.SUPPORTED


def test_an_inverted_interval_is_an_error():
    with pytest.raises(claims.ClaimsError, match="not an interval"):
        claims.apply_rule(claims.Rule("sign", direction="positive"), interval(0, 1, -1), None)


# --------------------------------------------------------------------------------------------
# Assessing a claim from executed chapters


def chapter(glued: dict[str, str], datasets=("popquorn", "study-sim")) -> claims.ExecutedChapter:
    return claims.ExecutedChapter(
        "05_group_models", Path("05_group_models.ipynb"), {"datasets": list(datasets)}, glued
    )


def assess(glued, dataset="popquorn", **changes) -> claims.Assessment:
    ledger = minimal_ledger(**changes)
    return claims.assess(
        ledger.claims[0],
        dataset,
        {"05_group_models": chapter(glued)},
        ledger.simulated(dataset),
    )


GOOD = {"c9-popquorn-value": "-0.2", "c9-popquorn-ci_low": "-0.3", "c9-popquorn-ci_high": "-0.1"}


def test_evidence_in_the_build_gives_a_verdict_a_url_and_a_role():
    result = assess(GOOD)
    assert (result.verdict, result.in_build, result.role) == (claims.SUPPORTED, True, "evidence")
    assert result.url == "chapters/05_group_models.html#fig-05-gaps"
    assert result.paper_value_in_ci is True
    assert "-20.0%" in result.reason
    simulated = assess(
        {k.replace("popquorn", "study-sim"): v for k, v in GOOD.items()}, dataset="study-sim"
    )
    assert simulated.role == claims.PIPELINE_CHECK


def test_a_missing_glue_key_is_an_error_naming_the_key_and_the_way_out():
    glued = {k: v for k, v in GOOD.items() if not k.endswith("ci_low")}
    with pytest.raises(claims.ClaimsError, match="glues no \\['c9-popquorn-ci_low'\\]") as error:
        assess(glued)
    assert "'c9-popquorn-reason'" in str(error.value)


def test_a_glued_reason_makes_a_dataset_not_testable():
    result = assess(
        {
            "c9-popquorn-reason": "'no runs for this dataset'",
            "c9-popquorn-verdict": "'not testable'",
        }
    )
    assert (result.verdict, result.reason) == (claims.NOT_TESTABLE, "no runs for this dataset")


def test_nan_without_a_reason_is_an_error_and_with_one_not_testable():
    glued = {**GOOD, "c9-popquorn-value": "nan"}
    with pytest.raises(claims.ClaimsError, match="without a finite number"):
        assess(glued)
    result = assess({**glued, "c9-popquorn-reason": "'the reference mean is 0'"})
    assert result.verdict == claims.NOT_TESTABLE


def test_a_chapter_verdict_that_disagrees_with_the_rule_is_an_error():
    supported = assess({**GOOD, "c9-popquorn-verdict": "'supported'"})
    assert supported.chapter_verdict == claims.SUPPORTED
    with pytest.raises(claims.ClaimsError, match="the same rule"):
        assess({**GOOD, "c9-popquorn-verdict": "'inconclusive'"})


def test_numpy_scalars_are_refused():
    with pytest.raises(claims.ClaimsError, match="never NumPy scalars"):
        assess({**GOOD, "c9-popquorn-value": "np.float64(-0.2)"})


def test_absent_chapters_and_datasets_are_not_testable_with_the_reason():
    ledger = claims.parse_ledger(
        {
            **MINIMAL,
            "claims": [
                {
                    **MINIMAL["claims"][0],
                    "evidence": [{**MINIMAL["claims"][0]["evidence"][0], "datasets": ["popquorn"]}],
                    "not_testable": {"study-sim": "never simulated"},
                }
            ],
        }
    )
    claim = ledger.claims[0]
    absent = claims.assess(claim, "popquorn", {}, False)
    assert absent.verdict == claims.NOT_TESTABLE and "not part of this build" in absent.reason
    assert absent.url is None
    declared = claims.assess(claim, "study-sim", {}, True)
    assert declared.reason == "never simulated"
    not_run = claims.assess(
        claim, "popquorn", {"05_group_models": chapter({}, datasets=("sbic",))}, False
    )
    assert "without popquorn" in not_run.reason


def test_a_count_of_nothing_is_not_testable(ledger):
    p1 = ledger.claim("P1")
    chapters = {
        "02_rating_gaps": claims.ExecutedChapter(
            "02_rating_gaps",
            Path("x"),
            {"datasets": ["sbic"]},
            {"p1-sbic-value": "0", "p1-sbic-n": "0"},
        )
    }
    assert claims.assess(p1, "sbic", chapters, False).verdict == claims.NOT_TESTABLE
    chapters["02_rating_gaps"].glued_text.update({"p1-sbic-value": "2", "p1-sbic-n": "6"})
    assert claims.assess(p1, "sbic", chapters, False).verdict == claims.SUPPORTED


# --------------------------------------------------------------------------------------------
# Executed notebooks, the build check, claims.json


def test_read_executed_parses_glued_values_and_parameters(tmp_path):
    path = write_executed(
        tmp_path,
        "05_group_models",
        {"c9-popquorn-value": "-0.25", "label": "'text'"},
        injected={"datasets": '["popquorn", "sbic"]'},
    )
    executed = claims.read_executed(path)
    assert executed.value("c9-popquorn-value") == -0.25 and executed.value("label") == "text"
    assert executed.parameters == {"datasets": ["popquorn", "sbic"]}
    assert executed_parameters(nbformat.read(path, as_version=4))["datasets"][1] == "sbic"
    assert math.isnan(claims.parse_glued_text("nan"))


def test_a_broken_glue_key_fails_the_build_check(tmp_path, monkeypatch):
    ledger = claims.load_ledger()
    keys = {
        f"C{n}-popquorn-{field}": "0.1"
        for n in (1, 2, 3)
        for field in ("relative_gap", "ci_low", "ci_high")
    }
    keys |= {f"C{n}-popquorn-ci_low": "0.05" for n in (1, 2, 3)}
    keys |= {"C1-popquorn-verdict": "'contradicted'"}
    keys |= {"p1-popquorn-value": "1", "p1-popquorn-n": "4"}
    keys |= {"r1-popquorn-value": "0.1", "r1-popquorn-ci_low": "0.05", "r1-popquorn-ci_high": "0.2"}
    write_executed(tmp_path, "02_rating_gaps", keys)
    check_executed_book(tmp_path, ledger)  # complete: passes
    del keys["C2-popquorn-ci_high"]
    write_executed(tmp_path, "02_rating_gaps", keys)
    with pytest.raises(BookBuildError, match="C2 on popquorn: chapter 02_rating_gaps glues no"):
        check_executed_book(tmp_path, ledger)


def document(ledger: claims.Ledger, assessments) -> dict:
    return claims.claims_document(
        ledger, assessments, Commit("0" * 40, False), lambda name: "a" * 64, profile="smoke"
    )


def test_claims_json_matches_its_schema_and_the_schema_bites():
    ledger = minimal_ledger()
    chapters = {"05_group_models": chapter(GOOD)}
    results = [
        claims.assess(ledger.claims[0], d, chapters, ledger.simulated(d)) for d in ("popquorn",)
    ]
    results.append(claims.assess(ledger.claims[0], "study-sim", {}, True))
    doc = document(ledger, results)
    claims.validate_document(doc)
    entry = doc["claims"][0]["evidence"][0]
    assert entry["url"] == "chapters/05_group_models.html#fig-05-gaps"
    assert entry["figure_files"]["png"] == "figures/fig-05-gaps.png"
    assert entry["data_sha256"] == "a" * 64 and doc["commit"]["dirty"] is False
    assert claims.claims_urls(doc) == [
        "chapters/05_group_models.html#fig-05-gaps",
        "figures/fig-05-gaps.png",
        "figures/fig-05-gaps.svg",
        "figures/fig-05-gaps.json",
    ]
    broken = copy.deepcopy(doc)
    broken["claims"][0]["evidence"][0]["verdict"] = "probably"
    with pytest.raises(claims.ClaimsError, match="claims/0/evidence/0/verdict"):
        claims.validate_document(broken)
    unlabelled = copy.deepcopy(doc)
    unlabelled["claims"][0]["evidence"][1]["role"] = "evidence"  # simulated data as evidence
    with pytest.raises(claims.ClaimsError, match="schema"):
        claims.validate_document(unlabelled)


def test_the_ledger_chapter_tables_and_figure(ledger):
    results = [
        claims.assess(claim, d, {}, ledger.simulated(d))
        for claim in ledger.claims
        for d in claim.datasets
    ]
    table = claims.evidence_html(ledger, results)
    assert table.count("<tr>") == len(results) + 1
    assert "(not in this build)" in table and "study-sim (simulated)" in table
    assert list(claims.claims_table(ledger).index) == [claim.id for claim in ledger.claims]
    assert claims.verdict_counts(ledger, results)[claims.NOT_TESTABLE].sum() == len(
        [r for r in results if not r.simulated]
    )
    figure = claims.plot_verdicts(ledger, results)
    assert len(figure.axes) == 1
    import matplotlib.pyplot as plt

    plt.close(figure)


def test_evidence_links_are_relative_to_the_ledger_page():
    ledger = minimal_ledger()
    result = claims.assess(ledger.claims[0], "popquorn", {"05_group_models": chapter(GOOD)}, False)
    assert 'href="05_group_models.html#fig-05-gaps"' in claims.evidence_html(ledger, [result])


def test_the_ledger_file_is_plain_yaml_of_known_keys(project_root):
    data = yaml.safe_load((project_root / "claims.yml").read_text())
    assert set(data) == {"ci_level", "datasets", "sources", "claims"}


def test_dataset_sha256_is_the_loaders_sha256():
    from pluralign.data.loaders import load_ratings

    assert dataset_sha256("example") == load_ratings("example").attrs["sha256"]


def test_dataset_sha256_of_a_real_dataset(mirror):
    from pluralign.data.loaders import load_ratings

    assert dataset_sha256("sap2022-small") == load_ratings("sap2022-small").attrs["sha256"]
