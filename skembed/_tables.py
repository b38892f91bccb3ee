"""Reading and writing the tables of the ``skembed`` command.

Reading accepts ``.npy`` (never unpickled), ``.csv`` and ``.parquet``. CSV
files are read the way pandas writes them, without needing pandas:

* the header row is detected from the file's layout, not from whether the
  names look like numbers: ``DataFrame.to_csv`` writes the column names
  ``0,1,...`` over its values, which must not become a data row;
* a first column with no name (``DataFrame.to_csv``'s index), or named
  beside columns named ``0..k-1`` (a named index), holding ``0..n-1`` is a
  row index and is dropped, not read as a feature; a headerless file whose
  first column holds ``0..n-1`` (``to_csv(header=False)``) is refused until
  ``--index-col`` says which it is;
* columns of text (class labels such as ``male``/``female``) are read as
  text, so a target file or column of labels works as it does from parquet.

Writing goes to a temporary file in the output's directory, renamed over the
output only once complete, so a failed write (a full disk, a file-size
limit, an interrupt) leaves any existing output exactly as it was.
"""

import contextlib
import csv
import io
import os
import tempfile
from pathlib import Path

import numpy as np

#: The names pandas gives the columns of an unnamed index: empty when it
#: writes a CSV, ``Unnamed: 0`` once such a file is read back and re-saved.
_INDEX_NAMES = ("", "Unnamed: 0")


class TableError(Exception):
    """A file that cannot be read or written as a table (exit status 2)."""


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_integer_literal(text):
    return text.strip().lstrip("+-").isdigit()


def read_table(path, *, header=None, index_col="auto", n_rows=None):
    """Read a table, returning ``(values, column_names or None)``.

    Parameters
    ----------
    path : str or Path
        A ``.npy``, ``.csv`` or ``.parquet`` file.
    header : bool or None, default=None
        CSV only: whether the first row holds column names; ``None`` detects
        it (see :func:`_read_csv`).
    index_col : "auto", "none", int or str, default="auto"
        CSV only: the column holding a row index, dropped from the values.
        ``"auto"`` drops an unnamed first column (pandas' index: an empty
        first header cell), and a first column holding ``0..n-1``.
    n_rows : int or None, default=None
        The number of rows the table must have (a target read beside its
        input), which settles whether an ambiguous first row is a header.

    Returns
    -------
    values : ndarray
        Floats when every column is numeric; an object array when some
        columns hold text. A ``.npy`` file keeps its own dtype and shape.
    column_names : list of str or None
        The column names, when the file has them.
    """
    path = Path(path)
    if not path.is_file():
        kind = "is a directory" if path.is_dir() else "no such file"
        raise TableError(f"cannot read {path}: {kind}")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv", ".parquet"):
        raise TableError(
            f"cannot read {path}: unknown file type {suffix!r}; use .npy, .csv or .parquet"
        )
    if path.stat().st_size == 0:
        raise TableError(f"cannot read {path}: the file is empty (0 bytes)")
    try:
        if suffix == ".npy":
            values, names = _read_npy(path), None
        elif suffix == ".csv":
            values, names = _read_csv(path, header, index_col, n_rows)
        else:
            values, names = _read_parquet(path)
    except TableError:
        raise
    except (ValueError, OSError, EOFError, csv.Error) as exc:
        if suffix == ".csv" and "could not convert string ''" in str(exc):
            raise TableError(f"cannot read {path}: {_empty_cell_message(path)}") from exc
        raise TableError(f"cannot read {path}: {_first_line(exc)}") from exc
    except MemoryError as exc:
        raise TableError(
            f"cannot read {path}: not enough memory to load it ({_first_line(exc)})"
        ) from exc
    if values.ndim == 0:
        raise TableError(f"cannot read {path}: it holds a single value, not a table")
    if values.shape[0] == 0:
        raise TableError(f"cannot read {path}: it holds no rows (shape {values.shape})")
    return values, names


def _first_line(exc):
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _read_npy(path):
    try:
        # allow_pickle=False: an object array in a .npy file is a pickle, and
        # unpickling a file runs whatever code it names.
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise TableError(
                f"cannot read {path}: it holds Python objects, which skembed never "
                "unpickles; save a numeric or string array (np.save(path, X.astype(float)))"
            ) from exc
        raise


def _empty_cell_message(path):
    """Where a CSV file's first empty cell is (pandas writes a missing value so)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        for row in reader:
            for position, cell in enumerate(row):
                # The first row's first cell is empty above DataFrame.to_csv's index.
                if not cell.strip() and (reader.line_num > 1 or position > 0):
                    return (
                        f"line {reader.line_num}, column {position + 1} is empty (a missing "
                        "value); fill or drop the missing values first (e.g. "
                        "DataFrame.dropna() before to_csv)"
                    )
    return "a cell is empty (a missing value); fill or drop the missing values first"


def _read_parquet(path):
    try:
        import pandas as pd

        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise TableError(
            "reading .parquet needs pandas and pyarrow: pip install pandas pyarrow"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - pyarrow's errors for a bad file are not all ValueError/OSError
        raise TableError(f"cannot read {path}: {_first_line(exc)}") from exc
    return frame.to_numpy(), [str(c) for c in frame.columns]


def _read_csv(path, header, index_col, n_rows):
    """Read a CSV file as pandas writes it.

    Whether the first row is a header, when ``header`` is None:

    1. a first row with one field fewer than the others names the columns of
       a file whose first column is the index (pandas' ``index_label=False``);
    2. when the number of rows is known (``n_rows``), the count decides;
    3. a first row starting with ``#`` (``np.savetxt``'s header) or with an
       empty cell (pandas' unnamed index) is a header;
    4. a first row with text above a numeric column is a header; text above
       a text column is a header only if it is not one of that column's
       values (``gender`` over ``male``/``female``, but not ``male`` itself);
    5. an all-numeric first row is a header only when it reads ``0,1,...,k-1``,
       pandas' default column names; for a single column whose values are
       integers too, this cannot be told apart from data and is an error
       asking for ``--header`` or ``--no-header``.
    """
    # The first two records go through the csv module, which splits quoted
    # names as pandas writes them; the body goes through np.loadtxt, whose
    # C parser is what keeps large embedding files fast to read.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        first = second = None
        first_lines = 0
        for row in reader:
            if not row:  # a blank line
                continue
            if first is None:
                first, first_lines = row, reader.line_num
            else:
                second = row
                break
    if first is None:
        raise TableError(f"cannot read {path}: the file has no rows")
    cells = [cell.strip() for cell in first]
    comment_header = cells[0].startswith("#")
    if comment_header:
        cells[0] = cells[0].lstrip("#").strip()
    width = len(second) if second is not None else len(cells)
    if second is None:
        numeric = [_is_number(cell) for cell in cells]
        body = np.empty((0, width), dtype=float if all(numeric) else object)
    else:
        numeric = [_is_number(cell.strip()) for cell in second]
        body = _load_body(path, first_lines, numeric)
    text_columns = [j for j in range(width) if not numeric[j]]

    if header is None:
        header = _detect_header(path, cells, comment_header, body, numeric, n_rows)
    if header:
        if len(cells) not in (width, width - 1):
            raise TableError(
                f"cannot read {path}: the header has {len(cells)} names but the rows have "
                f"{width} values"
            )
        names = cells
    else:
        if len(cells) != width:
            raise TableError(
                f"cannot read {path}: the first row has {len(cells)} values but the next "
                f"has {width}"
            )
        if any(numeric[j] and not _is_number(c) for j, c in enumerate(cells)):
            raise TableError(
                f"cannot read {path}: the first row is read as data (--no-header) but holds "
                f"text: {first}"
            )
        row = np.array(
            [[float(c) if numeric[j] else c for j, c in enumerate(cells)]],
            dtype=body.dtype if not text_columns else object,
        )
        body = np.concatenate([row, body])
        names = None

    if len(body) == 0:
        raise TableError(
            f"cannot read {path}: it has a header row but no data rows "
            "(pass --no-header if the first row is data)"
        )
    position = _index_position(path, index_col, names, body, numeric)
    if position is not None:
        body = np.delete(body, position, axis=1)
        if names is not None and len(names) == width:
            names = names[:position] + names[position + 1 :]
        numeric = numeric[:position] + numeric[position + 1 :]
    if names is not None and len(names) != body.shape[1]:
        raise TableError(
            f"cannot read {path}: the header has {len(names)} names for "
            f"{body.shape[1]} columns of values"
        )
    if all(numeric) and body.dtype == object:
        body = body.astype(float)
    return body, names


def _load_body(path, skiprows, numeric):
    options = dict(delimiter=",", skiprows=skiprows, ndmin=2, comments=None,
                   quotechar='"', encoding="utf-8")
    numeric_columns = [j for j, is_num in enumerate(numeric) if is_num]
    text_columns = [j for j, is_num in enumerate(numeric) if not is_num]
    if not text_columns:
        return np.loadtxt(path, dtype=float, **options)
    text = np.loadtxt(path, dtype=str, usecols=text_columns, **options)
    body = np.empty((len(text), len(numeric)), dtype=object)
    body[:, text_columns] = np.char.strip(text)
    if numeric_columns:
        body[:, numeric_columns] = np.loadtxt(
            path, dtype=float, usecols=numeric_columns, **options
        )
    return body


def _detect_header(path, cells, comment_header, body, numeric, n_rows):
    width = len(numeric)
    if len(cells) == width - 1:
        return True
    if n_rows is not None and len(body) in (n_rows, n_rows - 1):
        return len(body) == n_rows
    if comment_header or "" in cells:
        return True
    text = [j for j, cell in enumerate(cells) if not _is_number(cell)]
    if text:
        if any(j >= width or numeric[j] for j in text):
            return True
        return any(cells[j] not in set(body[:, j]) for j in text)
    if cells != [str(j) for j in range(len(cells))]:
        return False
    integer_body = len(body) > 0 and all(
        numeric[j] and np.all(body[:, j].astype(float) == np.round(body[:, j].astype(float)))
        for j in range(width)
    )
    if len(cells) > 1 or not integer_body:
        return True
    raise TableError(
        f"cannot read {path}: cannot tell whether its first row ({cells[0]!r}) is a column "
        "name or a value; pass --header or --no-header"
    )


def _index_position(path, index_col, names, body, numeric):
    """The column of ``body`` to drop as a row index, or None."""
    width = body.shape[1]
    if index_col == "none":
        return None
    if index_col == "auto":
        row_numbers = numeric[0] and np.array_equal(body[:, 0].astype(float),
                                                     np.arange(len(body)))
        if names is None:
            # DataFrame.to_csv(header=False) writes its index 0..n-1 first:
            # neither dropped nor kept without the user's word.
            if width > 1 and len(body) >= 3 and row_numbers:
                raise TableError(
                    f"cannot read {path}: its first column holds 0..n-1, as pandas writes "
                    "an index with header=False; pass --index-col 0 to drop it as a row "
                    "index, or --index-col none to read it as a feature"
                )
            return None
        if len(names) == width - 1:
            return 0
        # A named index (df.index.name = "id") is written as its name beside
        # pandas' default column names 0..k-1.
        named_index = width > 1 and names[0] not in _INDEX_NAMES and names[1:] == [
            str(j) for j in range(width - 1)]
        if names[0] not in _INDEX_NAMES and not named_index:
            return None
        if row_numbers or names[0] in _INDEX_NAMES:
            # A header whose first cell is empty is pandas' unnamed index,
            # whatever it holds (row numbers, words, dates): a feature column
            # always has a name in a file with a header.
            return 0
        described = (f"is named {names[0]!r} beside columns named 0..{width - 2}, as pandas "
                     "writes a named index,")
        raise TableError(
            f"cannot read {path}: its first column {described} but does not hold 0..n-1; "
            "pass --index-col 0 to drop it as a row index, or --index-col none to read "
            "it as a feature"
        )
    if isinstance(index_col, str) and not index_col.lstrip("-").isdigit():
        if names is None or index_col not in names:
            raise TableError(
                f"cannot read {path}: --index-col {index_col!r} is not a column name "
                f"(columns: {names})"
            )
        return names.index(index_col) + (width - len(names))
    position = int(index_col)
    if not 0 <= position < width:
        raise TableError(
            f"cannot read {path}: --index-col {position} is out of range: the file has "
            f"{width} columns (numbered from 0)"
        )
    return position


# ----------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------


def check_output(path, *, inputs=(), force=False, suffixes=(".npy", ".csv")):
    """Refuse an output that the command could not or should not write.

    Run before the fit, so a long fit never ends on an unwritable output.
    """
    path = Path(path)
    if path.is_dir():
        raise TableError(
            f"cannot write {path}: it is a directory; give a file name such as "
            f"{path / ('output' + suffixes[0])}"
        )
    if path.suffix.lower() not in suffixes:
        raise TableError(
            f"cannot write {path}: unknown file type; use {' or '.join(suffixes)}"
        )
    directory = path.parent
    if not directory.is_dir():
        raise TableError(
            f"cannot write {path}: the directory {directory} does not exist; create it first"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise TableError(f"cannot write {path}: the directory {directory} is not writable")
    for source in inputs:
        if source is not None and _same_file(path, source) and not force:
            raise TableError(
                f"cannot write {path}: it is also the input file {source}; choose another "
                "output, or pass --force to replace the input"
            )
    if path.exists() and not force:
        raise TableError(f"cannot write {path}: the file exists; pass --force to replace it")


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(a).resolve() == Path(b).resolve()


def write_atomically(path, write):
    """Call ``write(handle)`` on a temporary file, then rename it to ``path``.

    The temporary file sits in the output's directory, so the rename is
    atomic (``os.replace``): ``path`` holds either its old bytes or the
    complete new ones, never a partial file, and no temporary file is left.
    """
    path = Path(path)
    existed = path.exists()
    mode = _new_file_mode() if not existed else os.stat(path).st_mode & 0o7777
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
        )
    except OSError as exc:
        raise TableError(
            f"cannot write {path}: {exc.strerror or _first_line(exc)} (nothing was written)"
        ) from exc
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates the file readable by its owner only; give it the
        # mode an ordinary new file (or the file it replaces) would have.
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            kept = "the existing file is unchanged" if existed else "nothing was written"
            raise TableError(
                f"cannot write {path}: {exc.strerror or _first_line(exc)} ({kept})"
            ) from exc
        raise


def _new_file_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _csv_header(column_names):
    """The header line, names quoted as the csv module (and pandas) quote them."""
    text = io.StringIO()
    csv.writer(text, lineterminator="").writerow([str(name) for name in column_names])
    return text.getvalue()


def write_table(path, values, column_names=None):
    """Write an array to ``.npy`` or ``.csv`` (with a header when names are known)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        write_atomically(path, lambda handle: np.save(handle, values))
    elif suffix == ".csv":
        values = values.reshape(len(values), -1)
        header = _csv_header(column_names) if column_names is not None else ""
        # Enough digits for the text to read back as the same float.
        if np.issubdtype(values.dtype, np.integer):
            fmt = "%d"
        else:
            fmt = "%.9g" if values.dtype == np.float32 else "%.17g"
        write_atomically(
            path,
            lambda handle: np.savetxt(
                handle, values, delimiter=",", header=header, comments="", fmt=fmt
            ),
        )
    else:
        raise TableError(f"cannot write {path}: unknown file type {suffix!r}; use .npy or .csv")


def write_sample(path, indices, sample_weight):
    """Write a sampler's rows: ``.npz`` (``indices``, ``sample_weight``) or ``.csv``."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        write_atomically(
            path, lambda handle: np.savez(handle, indices=indices, sample_weight=sample_weight)
        )
    else:
        table = np.column_stack([indices, sample_weight])
        write_atomically(
            path,
            lambda handle: np.savetxt(
                handle, table, delimiter=",", header="index,sample_weight", comments="",
                fmt=["%d", "%.17g"],
            ),
        )
