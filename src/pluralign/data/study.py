"""Reading a study-format file (CSV, compressed CSV or Parquet) into the long ratings table.

Columnar on purpose: pyarrow parses the file into typed string columns (a 1-million-row file
exports in about its own size in memory, not ten times it), demographics are normalised once per
distinct value, and line numbers are recovered only when there is a problem to report. Every
problem a user's file can have becomes a `Problem` naming the file, line and column: encodings
other than UTF-8, compression, a file that is not Parquet, a duplicated or missing header,
ragged rows, control characters, inconsistent raters, one dimension on two scales.
"""

from __future__ import annotations

import codecs
import csv
import sys
import warnings
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from pluralign.data.normalise import (
    age_group_from_bin,
    normalise_country,
    normalise_education,
    normalise_gender,
    normalise_political,
    normalise_race,
)
from pluralign.data.schema import (
    COLUMNS,
    DEMOGRAPHICS,
    Problem,
    RatingsValidationError,
    is_item_column,
    item_columns,
    unlisted_categories,
    validate_ratings,
)

#: Identifiers and codes: compared after trimming, no control character at all.
TRIMMED_COLUMNS = (
    "rating_id",
    "participant_id",
    "prompt_id",
    "response_id",
    "dimension",
    "scale",
    *DEMOGRAPHICS,
)
#: Free text: tabs and line breaks are text, other control characters are not.
FREE_TEXT_COLUMNS = ("prompt", "response")
CONTROL_IN_CODES = r"[\x00-\x1f\x7f]"
CONTROL_IN_TEXT = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"

#: Leading bytes of formats that are not a plain UTF-8 CSV.
COMPRESSION_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\x28\xb5\x2f\xfd": "zstd"}
REFUSED_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (or an Excel .xlsx workbook): unzip it, or save the sheet as CSV",
    b"\xfd7zXZ\x00": "xz-compressed: decompress it, or compress it with gzip instead",
    b"\xd0\xcf\x11\xe0": "an Excel .xls workbook: save the sheet as CSV (UTF-8)",
}
OTHER_ENCODING_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32 (little-endian)",
    b"\x00\x00\xfe\xff": "UTF-32 (big-endian)",
    b"\xff\xfe": "UTF-16 (little-endian)",
    b"\xfe\xff": "UTF-16 (big-endian)",
}
PARQUET_MAGIC = b"PAR1"
#: pyarrow's parse block: a record (one rating with its prompt and response) must fit in one;
#: blocks are read one at a time, so this also bounds the parser's working memory.
BLOCK_BYTES = 16 << 20

NORMALISERS: dict[str, Callable[[Any], str | None]] = {
    "country": normalise_country,
    "gender": normalise_gender,
    "race": normalise_race,
    "political": normalise_political,
    "age_group": age_group_from_bin,
    "education": normalise_education,
}


class UnlistedCategoryWarning(UserWarning):
    """Demographic values outside the schema's vocabulary, kept as categories of their own."""


class IgnoredColumnsWarning(UserWarning):
    """Columns a study file has beyond the schema's: read past, not exported."""


def _file_problem(path: Path, rule: str, row: int | None = None) -> RatingsValidationError:
    return RatingsValidationError(str(path), [Problem(str(path), row, None, "", rule)])


def _leading_bytes(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(8)


def _open_text_stream(path: Path, compression: str | None) -> pa.NativeFile:
    return pa.input_stream(str(path), compression=compression)


def read_study_file(path: Path | str, strict: bool = False) -> pd.DataFrame:
    """Read and validate a study-format file (CSV, gzip/bz2/zstd CSV, or Parquet).

    Rows are numbered as the file's lines for CSV (header = line 1) and from 1 for Parquet.
    Raises `RatingsValidationError` listing every problem; with `strict`, demographic values
    outside the schema's vocabulary are problems too (otherwise one warning lists them).
    """
    path = Path(path)
    if path.is_dir():
        raise _file_problem(path, "is a folder, not a ratings file (give a CSV or Parquet file)")
    leading = _leading_bytes(path)
    if not leading:
        raise _file_problem(path, "the file is empty")
    for magic, what in REFUSED_MAGIC.items():
        if leading.startswith(magic):
            raise _file_problem(path, f"the file is {what}")
    for magic, name in OTHER_ENCODING_BOMS.items():
        if leading.startswith(magic):
            raise _file_problem(path, f"the file is encoded as {name}: save it as UTF-8")
    if leading.startswith(PARQUET_MAGIC):
        table, lines, problems = _read_parquet(path), None, []
    elif path.suffix.lower() == ".parquet":
        raise _file_problem(
            path, "not a Parquet file (it does not start with PAR1): give a real Parquet file"
        )
    else:
        compression = next(
            (name for magic, name in COMPRESSION_MAGIC.items() if leading.startswith(magic)),
            None,
        )
        table, lines, problems = _read_csv(path, compression)
    return validate_study_table(table, str(path), lines, strict, problems)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise _file_problem(path, f"unreadable Parquet file: {error}") from None
    names = arrow.column_names
    if duplicated := sorted({name for name in names if names.count(name) > 1}):
        raise _file_problem(path, f"duplicated column(s): {', '.join(duplicated)}")
    columns = {}
    for name, column in zip(names, arrow.columns, strict=True):
        if name == "score":
            columns[name] = column.to_pandas()
        else:
            columns[name] = column.cast(pa.string()).to_pandas().astype("str")
    table = pd.DataFrame(columns)
    if not len(table):
        raise _file_problem(path, "no data rows (the file has only column names)")
    table.index = pd.RangeIndex(1, len(table) + 1)
    return table


def _read_csv(
    path: Path, compression: str | None
) -> tuple[pd.DataFrame, array | None, list[Problem]]:
    """Every field as a string column; returns the table, the line each kept record starts on
    when rows were skipped (else None: record i is line i+2), and a problem per ragged row."""
    header = _read_header(path, compression)
    if duplicated := sorted({name for name in header if header.count(name) > 1}):
        raise _file_problem(path, f"duplicated column(s) in the header: {', '.join(duplicated)}", 1)
    if "" in header:
        raise _file_problem(path, f"column {header.index('') + 1} of the header has no name", 1)
    ragged: list[int] = []

    def on_ragged(row: Any) -> str:
        ragged.append(row.actual_columns)
        return "skip"

    try:
        with _open_text_stream(path, compression) as stream:
            # streamed block by block: only one block's parse buffers are alive at a time
            reader = pa_csv.open_csv(
                stream,
                read_options=pa_csv.ReadOptions(block_size=BLOCK_BYTES, use_threads=False),
                parse_options=pa_csv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=on_ragged
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types={name: pa.large_string() for name in header},
                    strings_can_be_null=False,
                ),
            )
            arrow = pa.Table.from_batches(list(reader), schema=reader.schema)
    except (pa.ArrowException, OSError) as error:
        raise _diagnose_unreadable(path, compression, error) from None
    if arrow.num_rows == 0 and not ragged:
        raise _file_problem(path, "no data rows (the file has only a header)")
    problems: list[Problem] = []
    lines: array | None = None
    if ragged:
        lines, problems = _record_lines(path, compression, len(header))
    table = _arrow_to_pandas(arrow)
    del arrow
    table.index = pd.RangeIndex(2, len(table) + 2)
    return table, lines, problems


def _arrow_to_pandas(arrow: pa.Table) -> pd.DataFrame:
    """String columns stay Arrow-backed (pandas' `str` dtype, no copy into Python objects);
    each Arrow buffer is released as its column is converted."""
    return arrow.to_pandas(
        types_mapper={pa.large_string(): pd.StringDtype("pyarrow", na_value=float("nan"))}.get,
        self_destruct=True,
        split_blocks=True,
    )


def _read_header(path: Path, compression: str | None) -> list[str]:
    """The header record, decoded as UTF-8 (a BOM, as Excel writes it, is dropped)."""
    with _open_text_stream(path, compression) as stream:
        try:
            head = stream.read(1 << 20)
        except (pa.ArrowException, OSError) as error:
            raise _file_problem(path, f"cannot be decompressed as {compression}: {error}") from None
    text = head.decode("utf-8", errors="replace").removeprefix("\ufeff")
    csv.field_size_limit(sys.maxsize)
    record = next(csv.reader(text.splitlines()), None)
    if record is None:
        raise _file_problem(path, "the file is empty")
    return [name.strip() for name in record]


def _diagnose_unreadable(
    path: Path, compression: str | None, error: Exception
) -> RatingsValidationError:
    """Why pyarrow could not read a CSV, said in the user's terms (encoding first)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line, offset = 1, 0
    with _open_text_stream(path, compression) as stream:
        while chunk := stream.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as bad:
                line += chunk[: bad.start].count(b"\n")
                byte = chunk[bad.start]
                return _file_problem(
                    path,
                    f"not UTF-8: byte 0x{byte:02X} at byte {offset + bad.start} cannot be decoded "
                    "(the file may be Latin-1 or Windows-1252); save it as UTF-8",
                    line,
                )
            line += chunk.count(b"\n")
            offset += len(chunk)
    return _file_problem(path, f"unreadable CSV: {str(error).splitlines()[0]}")


def _record_lines(path: Path, compression: str | None, width: int) -> tuple[array, list[Problem]]:
    """The start line of each well-formed record, and a problem for each ragged one."""
    csv.field_size_limit(sys.maxsize)
    lines = array("q")
    problems = []
    with _open_text_stream(path, compression) as stream:
        text = codecs.getreader("utf-8-sig")(stream)
        reader = csv.reader(text)
        next(reader, None)
        start = reader.line_num + 1
        for record in reader:
            if record and len(record) != width:
                problems.append(
                    Problem(
                        str(path),
                        start,
                        None,
                        "",
                        f"unparseable row: {len(record)} fields where the header has {width}",
                    )
                )
            elif record:
                lines.append(start)
            start = reader.line_num + 1
    return lines, problems


def _as_line(row: int | None, lines: array | None) -> int | None:
    if row is None or lines is None:
        return row
    index = row - 2
    return lines[index] if 0 <= index < len(lines) else row


def validate_study_table(
    table: pd.DataFrame,
    file: str,
    lines: array | None = None,
    strict: bool = False,
    problems: list[Problem] | None = None,
) -> pd.DataFrame:
    """Clean (trim ids and codes, normalise demographics) and validate a study table.

    The index holds row numbers (CSV: record i is numbered i+2, its line unless `lines` gives
    each record's first line; Parquet: from 1).
    """
    located = list(problems or [])  # the reader's problems already name their lines
    problems = []
    extra = [
        column for column in table.columns if column not in COLUMNS and not is_item_column(column)
    ]
    if extra:
        warnings.warn(
            f"{file}: ignored column(s) not in the study format: {', '.join(map(str, extra))}",
            IgnoredColumnsWarning,
            stacklevel=2,
        )
        table = table.drop(columns=extra)
    for column in table.columns:
        if column == "score":
            continue
        text = table[column].astype("str")
        pattern = CONTROL_IN_TEXT if column in FREE_TEXT_COLUMNS else CONTROL_IN_CODES
        for row, value in text[text.str.contains(pattern, regex=True, na=False)].items():
            problems.append(
                Problem(file, int(row), column, str(value)[:60], "control character in a field")
            )
        if column in TRIMMED_COLUMNS or is_item_column(column):
            text = text.str.strip()
            table[column] = text.where(text != "", None)
        else:  # free text is kept as written; only a blank cell becomes missing (no copy)
            blank = text.str.fullmatch(r"\s*", na=True)
            table[column] = text.where(~blank, None) if blank.any() else text
    for column, normalise in NORMALISERS.items():
        if column in table:
            table[column] = _normalise_once(table[column], normalise)
    if "score" in table:
        raw = table["score"]
        number = pd.to_numeric(raw, errors="coerce")
        unparseable = number.isna() & raw.notna()
        for row, value in raw[unparseable].items():
            problems.append(Problem(file, int(row), "score", str(value), "not a number"))
        table["score"] = number.astype(float)
    try:
        validated = validate_ratings(table, file, keep_index=True)
    except RatingsValidationError as error:
        problems = _merge(problems, error.problems)
        validated = None
    if validated is not None:
        problems.extend(consistency_problems(validated, file))
        if strict:
            problems.extend(vocabulary_problems(validated, file))
    if problems or located:
        raise RatingsValidationError(file, _with_lines(problems, lines, located))
    if not strict:
        warn_unlisted(validated, file)
    return validated.reset_index(drop=True)


def _normalise_once(column: pd.Series, normalise: Callable[[Any], str | None]) -> pd.Series:
    """Apply a per-value normaliser to each distinct value once (a column has few of them),
    through integer codes, so a million-row column costs megabytes, not a Python object each."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    mapped = [normalise(value) for value in uniques]
    categories = list(dict.fromkeys(value for value in mapped if value is not None))
    position = {value: index for index, value in enumerate(categories)}
    lookup = np.array([position.get(value, -1) if value is not None else -1 for value in mapped])
    new_codes = np.where(codes >= 0, lookup[np.maximum(codes, 0)] if len(lookup) else -1, -1)
    values = pd.Categorical.from_codes(new_codes, categories=categories)
    return pd.Series(values, index=column.index).astype("str")


def _disagreements(
    table: pd.DataFrame, column: str, key: str, what: str, file: str
) -> list[Problem]:
    """A problem for each `key` (a rater, an item) whose non-missing `column` values differ
    between its rows, naming the row where a second value appears and every value seen."""
    values = table[column].dropna()
    keys = table[key].loc[values.index]
    counts = values.groupby(keys, sort=False).nunique()
    problems = []
    for owner in counts[counts > 1].index:
        seen = values[keys == owner].drop_duplicates()
        shown = ", ".join(f"{value!r} (row {row})" for row, value in seen.items())
        problems.append(
            Problem(
                file,
                int(seen.index[1]),
                column,
                str(seen.iloc[1]),
                f"{what} {owner!r} has different {column} values across rows: {shown}",
            )
        )
    return problems


def consistency_problems(table: pd.DataFrame, file: str) -> list[Problem]:
    """Rules across rows: a rater's demographics agree on every row; a dimension has one scale."""
    problems = []
    rows = pd.Series(table.index, index=table.index)
    for column in DEMOGRAPHICS:  # an answer missing on one row contradicts nothing
        problems += _disagreements(table, column, "participant_id", "rater", file)
    for column in item_columns(table):  # an item's type must be the same on each of its rows
        problems += _disagreements(table, column, "response_id", "item", file)
    scales = table.groupby("dimension", sort=False)["scale"].unique()
    for dimension, used in scales.items():
        if len(used) > 1:
            later = rows[(table["dimension"] == dimension) & (table["scale"] != used[0])]
            problems.append(
                Problem(
                    file,
                    int(later.iloc[0]),
                    "scale",
                    str(table.loc[later.iloc[0], "scale"]),
                    f"dimension {dimension!r} is rated on several scales ({', '.join(used)}); "
                    "one dimension has one scale",
                )
            )
    return problems


def vocabulary_problems(table: pd.DataFrame, file: str) -> list[Problem]:
    """Under --strict: every demographic value outside the schema's vocabulary, one per row."""
    problems = []
    for column, values in unlisted_categories(table).items():
        allowed = ", ".join(values["allowed"])
        for row, value in table[column][table[column].isin(values["found"])].items():
            problems.append(
                Problem(file, int(row), column, str(value), f"must be one of: {allowed}")
            )
    return problems


def warn_unlisted(table: pd.DataFrame, file: str) -> None:
    """One warning naming each field and the values kept as categories of their own."""
    unlisted = unlisted_categories(table)
    if unlisted:
        listed = "; ".join(
            f"{column}: {', '.join(values['found'])}" for column, values in unlisted.items()
        )
        warnings.warn(
            f"{file}: values outside the schema's vocabulary, kept as their own categories "
            f"(--strict refuses them): {listed}",
            UnlistedCategoryWarning,
            stacklevel=3,
        )


def _with_lines(
    problems: list[Problem], lines: array | None, located: list[Problem]
) -> list[Problem]:
    """`problems` renumbered from record numbers to file lines, with `located`, in line order."""
    located = located + [
        Problem(p.file, _as_line(p.row, lines), p.column, p.value, p.rule) for p in problems
    ]
    located = list(dict.fromkeys(located))
    located.sort(key=lambda problem: (problem.row is not None, problem.row or 0))
    return located


def _merge(first: list[Problem], second: list[Problem]) -> list[Problem]:
    """Both lists, without a second report of a cell the first already explains."""
    seen = {(problem.row, problem.column) for problem in first}
    return first + [problem for problem in second if (problem.row, problem.column) not in seen]
