"""Property-based tests of the study-format loader (hypothesis): any file it accepts round-trips
through `pluralign data export` with the same ratings; any file it refuses gets exit 2 and a
plain message naming the file, never a traceback (issue 16)."""

from __future__ import annotations

import csv
import io
import tempfile
import warnings
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pluralign.cli.app import app
from pluralign.data.loaders import read_study_file
from pluralign.data.schema import COLUMNS, RatingsValidationError

runner = CliRunner()

#: Any text a spreadsheet cell can hold, markup and separators included.
cell_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30
) | st.sampled_from(["[/]", "[link=x]y[/link]", ":x:", ",", '"', "\n", " ", "ex-1 "])

valid_row = st.fixed_dictionaries(
    {
        "participant_id": st.sampled_from(["u1", "u2", "u3"]),
        "prompt_id": st.sampled_from(["p1", "p2"]),
        "prompt": st.text(min_size=1, max_size=20).filter(str.strip),
        "response_id": st.sampled_from(["r1", "r2", "r3"]),
        "response": st.text(min_size=1, max_size=40).filter(str.strip),
        "dimension": st.sampled_from(["toxicity", "helpfulness"]),
        "score": st.sampled_from(["1", "2", "3", "4", "5"]),
    }
)
RATERS = {
    "u1": ("US", "female", "white", "liberal", "25-34", "college"),
    "u2": ("DE", "male", "Hawaiian", "", "65+", "bachelor"),
    "u3": ("", "nonbinary", "asian", "conservative", "", ""),
}


def to_csv(rows: list[dict[str, str]], mutation: tuple[int, str, str] | None) -> bytes:
    records = []
    for index, row in enumerate(rows):
        demographics = dict(
            zip(
                ("country", "gender", "race", "political", "age_group", "education"),
                RATERS[row["participant_id"]],
                strict=True,
            )
        )
        record = {**row, **demographics, "rating_id": f"id-{index}", "scale": "5pt"}
        records.append([record[name] for name in COLUMNS])
    if mutation is not None:
        row, column, value = mutation
        records[row % len(records)][COLUMNS.index(column)] = value
    buffer = io.StringIO()
    csv.writer(buffer).writerows([list(COLUMNS), *records])
    return buffer.getvalue().encode("utf-8", errors="surrogatepass")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    rows=st.lists(valid_row, min_size=1, max_size=8),
    mutation=st.none() | st.tuples(st.integers(0, 7), st.sampled_from(COLUMNS), cell_text),
)
def test_accepted_files_round_trip_and_refused_files_exit_2(rows, mutation):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ratings.csv"
        path.write_bytes(to_csv(rows, mutation))
        output = Path(folder) / "out.parquet"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                accepted = read_study_file(path)
        except RatingsValidationError:
            accepted = None
        result = runner.invoke(app, ["data", "export", str(path), "-o", str(output)])
        assert "Traceback" not in result.output
        if accepted is None:
            assert result.exit_code == 2, result.output
            assert result.output.startswith("error: ") and str(path) in result.output
            assert not output.exists()
        else:
            assert result.exit_code == 0, result.output
            exported = pd.read_parquet(output)
            assert list(exported.columns) == list(COLUMNS)
            assert len(exported) == len(rows)
            pd.testing.assert_frame_equal(
                exported.astype(object).where(exported.notna(), None),
                accepted.astype(object).where(accepted.notna(), None),
                check_dtype=False,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                again = read_study_file(output)  # the export is itself a valid study file
            assert len(again) == len(rows)
