"""The ``skembed`` command: a demo, and one subcommand per estimator.

``skembed demo`` runs every implemented estimator on the word sample shipped
with the package and prints one figure for each. Each estimator also gets a
subcommand that reads a table (``.npy``, ``.csv`` or ``.parquet``), fits the
estimator and writes the result (``.npy`` or ``.csv``)::

    skembed NAME INPUT -o OUTPUT [--y FILE | --y-column COLUMN] [--param NAME=VALUE ...]
                 [--force] [--header | --no-header] [--index-col COLUMN]
                 [--save-model MODEL.skops] [--transform FILE | --predict FILE]
    skembed NAME INPUT -o OUTPUT --model MODEL.skops

Fit once, apply many: ``--save-model`` writes the fitted estimator (skops
format, see :mod:`skembed._models` for what loading trusts); ``--model``
applies a saved estimator to INPUT's rows without fitting (``transform``, or
``predict`` for ``cluster``); ``--transform FILE`` (``--predict FILE`` for
``cluster``) fits on INPUT and writes the result for FILE's rows instead.

A bad file, parameter or output, and a fit that fails (a ValueError from the
estimator, a MemoryError, a solver failure, or values so large that the
result overflows) end the command with status 2 and a one-line message on
standard error, never a traceback. The output is checked before the fit; an
existing output is replaced only with ``--force``, and always through a
temporary file renamed over it, so a failed run leaves it intact. CSV files
are read as pandas writes them (see :mod:`skembed._tables`).

``skembed probe ERASED (--concept FILE | --concept-column COLUMN) [--original FILE]
-o REPORT.csv`` scores a concept erasure with
:func:`skembed.metrics.guardedness_report`: it prints the table and writes it
as CSV, checked and written the same way.

Adding an estimator's subcommand is one entry in :data:`COMMANDS`; adding its
part of the demo is one function in :data:`skembed._demo.DEMOS`.
"""

import argparse
import ast
import csv
import io
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from ._models import MODEL_SUFFIX, check_model_support, load_model, save_model
from ._tables import (
    TableError,
    check_output,
    read_table,
    write_atomically,
    write_sample,
    write_table,
)

EXIT_USAGE = 2
WRITABLE = (".npy", ".csv")
SAMPLE_WRITABLE = (".npz", ".csv")


class CommandError(Exception):
    """A problem with the user's files or parameters (exit status 2)."""


@dataclass(frozen=True)
class EstimatorCommand:
    """How the CLI runs one estimator.

    Attributes
    ----------
    factory : callable
        Returns a new estimator with default parameters.
    help : str
        One line shown by ``skembed --help``.
    needs_y : bool
        The estimator is fit with a target (``--y`` or ``--y-column``).
    output : {"transform", "labels", "sample"}
        Write ``fit_transform``'s array, ``fit_predict``'s labels, or a
        sampler's chosen rows: ``sample_indices_`` and ``sample_weight_``
        (``.npz`` with arrays ``indices`` and ``sample_weight``, or a ``.csv``
        with columns ``index,sample_weight``).
    target_name : str
        What the target is called on the command line: ``--NAME FILE`` or
        ``--NAME-column COLUMN`` (default ``y``).
    fit_arrays : tuple of str
        Other per-row arrays ``fit`` takes by keyword, each read from
        ``--NAME FILE`` or ``--NAME-column COLUMN`` (e.g. SPLICE's ``target``).
    required : dict
        Parameters the command line must set, each with the sentence that
        says how (a default that only suits some data would otherwise run
        silently).
    """

    factory: object
    help: str
    needs_y: bool = False
    output: str = "transform"
    target_name: str = "y"
    required: dict = field(default_factory=dict)
    fit_arrays: tuple = ()

    @property
    def apply_name(self):
        """The method that applies a fitted estimator to new rows (None: none)."""
        return {"transform": "transform", "labels": "predict"}.get(self.output)


#: Subcommand name -> how to run it. Estimator modules are imported lazily
#: inside the factories, so ``skembed --version`` stays fast.
COMMANDS = {}


def parse_param(text):
    """Turn ``name=value`` into ``(name, value)``; values are Python literals or strings."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise CommandError(f"--param {text!r} is not of the form name=value")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return name.strip(), value


# ----------------------------------------------------------------------------
# Subcommands
# ----------------------------------------------------------------------------


def _as_numbers(values, path, names, what):
    """``values`` as floats, or a one-line error naming the first text column."""
    try:
        return values.astype(float)
    except (TypeError, ValueError):
        pass
    for j in range(values.shape[1]):
        for value in values[:, j]:
            try:
                float(value)
            except (TypeError, ValueError):
                column = repr(names[j]) if names else f"number {j}"
                if isinstance(value, str) and not value.strip():
                    # pandas writes a missing value as an empty cell.
                    raise CommandError(
                        f"cannot read {path}: column {column} has an empty cell (a missing "
                        "value); fill or drop the missing values first"
                    ) from None
                raise CommandError(
                    f"cannot read {path}: column {column} holds text ({value!r}); {what}"
                ) from None
    return values.astype(float)  # pragma: no cover - a column failed above


#: How a missing label reads back from pandas' CSV (an empty cell) and parquet.
_MISSING_LABELS = ("", "nan", "none", "null", "<na>", "nat")


def _as_target(values, path=None):
    """A target column: numbers when every value is one, else the labels as text.

    A missing label (an empty CSV cell, parquet's None/NaN among text labels)
    is refused: read as text it would become a class of its own.
    """
    values = values.ravel() if values.ndim == 2 and values.shape[1] == 1 else values
    if values.dtype == object:
        try:
            return values.astype(float)
        except (TypeError, ValueError):
            pass
        missing = [i for i, value in enumerate(values.ravel())
                   if value is None or (isinstance(value, float) and value != value)
                   or str(value).strip().lower() in _MISSING_LABELS]
        if missing:
            where = f" in {path}" if path is not None else ""
            raise CommandError(
                f"the labels{where} have {len(missing)} missing value(s) (first at row "
                f"{missing[0]}); drop those rows from the input and the labels, or fill them "
                "with a class name"
            )
        return values.astype(str)
    return values


def _per_row_options(command):
    """``(key, flag)`` of every per-row array the fit reads: the target first."""
    return [("y", f"--{command.target_name}")] + [(name, f"--{name}")
                                                   for name in command.fit_arrays]


def _read_rows(path, args):
    return read_table(path, header=args.header, index_col=args.index_col)


def _as_features(X, path, columns, flags):
    if X.dtype != object:
        return X
    return _as_numbers(X, path, columns,
                       f"pass it as {flags}-column NAME, or remove it from the input")


#: Attribute of a fitted estimator holding the column names it was fitted on
#: by the command line (None for a file without names).
FIT_COLUMNS = "_skembed_fit_columns"


def _rows_to_apply(X, columns, fit_columns, path):
    """The feature columns of rows a fitted estimator is applied to, matched by name.

    With names on both sides, the fit's columns are taken by name, in the
    fit's order (other columns, such as the concept, are left out): a file
    whose columns are reordered is read right, and one that lacks a column
    is refused. Without names, columns are taken by position.
    """
    if fit_columns is not None and columns is not None and columns != fit_columns:
        missing = [name for name in fit_columns if name not in columns]
        if missing:
            raise CommandError(
                f"{path} lacks column(s) {missing[:5]} that the estimator was fitted on; "
                "pass rows with the fit's columns (names are matched, in any order)"
            )
        X = X[:, [columns.index(name) for name in fit_columns]]
        columns = list(fit_columns)
    if X.dtype != object:
        return X, columns
    return _as_numbers(X, path, columns,
                       "remove it from the file: a fitted estimator applies to the "
                       "feature columns it was fitted on"), columns


def _load_xy(args, command):
    """The input's features, its target (or None), other fit arrays, column names."""
    path = args.input_option or args.input
    X, columns = _read_rows(path, args)
    arrays = {}
    for key, flag in _per_row_options(command):
        column, source = getattr(args, f"{key}_column"), getattr(args, f"{key}_file")
        if column is not None:
            if columns is None or column not in columns:
                raise CommandError(
                    f"{flag}-column {column!r} is not a column of {path} (columns: {columns})"
                )
            position = columns.index(column)
            arrays[key] = _as_target(X[:, position], path)
            X = np.delete(X, position, axis=1)
            columns = columns[:position] + columns[position + 1 :]
        elif source is not None:
            # The input's row count tells whether the file's first row is a
            # header when its content alone cannot (a column of labels).
            values, _ = read_table(source, n_rows=len(X), header=args.header,
                                   index_col=args.index_col)
            arrays[key] = _as_target(values, source)
    X = _as_features(X, path, columns, f"--{command.target_name}")
    y = arrays.pop("y", None)
    if command.needs_y and y is None:
        flag = f"--{command.target_name}"
        raise CommandError(
            f"this estimator needs a target: pass {flag} FILE or {flag}-column NAME"
        )
    return X, y, arrays, columns


def _is_fit_failure(exc):
    """Whether ``exc`` is a fit failing on its input (one line) rather than a bug.

    ValueError and TypeError are the estimators' own errors; MemoryError,
    ArithmeticError, cvxpy's SolverError and RuntimeError (which scipy's and
    LAPACK's solvers raise on failure, e.g. "Memory error in
    scipy.linalg.inv") are what a solver raises on an input too large or too
    hard for it. Anything else is a bug and keeps its traceback.
    """
    if isinstance(exc, RecursionError):
        return False
    if isinstance(exc, (ValueError, TypeError, ArithmeticError, MemoryError, RuntimeError)):
        return True
    # cvxpy's SolverError, matched by name: importing cvxpy here would slow
    # every command down for the one estimator that uses it.
    return any(
        cls.__name__ == "SolverError" and cls.__module__.startswith("cvxpy")
        for cls in type(exc).__mro__
    )


#: What to do when a fit runs out of memory, for errors that do not say.
_MEMORY_ADVICE = ("try a method or parameters that need less memory, or fit on a sample "
                  "of the rows")


def _fit_message(estimator, exc):
    """One line: the estimator, then its message (the first line of it)."""
    name = type(estimator).__name__
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    message = lines[0] if lines else ""
    own = type(exc).__module__.startswith("skembed")
    if isinstance(exc, MemoryError) and not own:
        # numpy's "Unable to allocate ..." says what but not what to do;
        # skembed's own MemoryError subclasses carry that advice.
        message = f"out of memory ({message or 'MemoryError'}); {_MEMORY_ADVICE}"
    elif isinstance(exc, MemoryError) and not message:
        message = "out of memory"
    elif isinstance(exc, RuntimeError) and "memory" in message.lower() and not own:
        message = f"{message} (out of memory); {_MEMORY_ADVICE}"
    elif not isinstance(exc, (ValueError, TypeError)) or not message:
        # A solver's exception: its class name says where the failure came from.
        message = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return message if message.startswith(name) else f"{name}: {message}"


def _is_floating_point_warning(record):
    # numpy's "overflow encountered in ...": meaningless once the output is
    # checked to be finite, and reported through that check when it is not.
    return issubclass(record.category, RuntimeWarning) and "encountered in" in str(record.message)


def _check_finite(estimator, values, X, caught):
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating) or np.all(np.isfinite(values)):
        return
    cause = next((str(r.message) for r in caught if _is_floating_point_warning(r)), None)
    largest = np.max(np.abs(X)) if np.issubdtype(X.dtype, np.number) and X.size else np.nan
    raise CommandError(
        f"{type(estimator).__name__} produced non-finite values"
        + (f" ({cause})" if cause else "")
        + f"; the input's values reach {largest:.3g}: rescale the input (e.g. divide it by "
        "its largest absolute value) and run again"
    )


def _input_paths(args, command):
    paths = [args.input_option or args.input, getattr(args, "apply_file", None),
             getattr(args, "model", None)]
    return paths + [getattr(args, f"{key}_file") for key, _ in _per_row_options(command)]


def _check_model_mode(name, args, command):
    """With ``--model`` nothing is fitted: refuse the options that only a fit reads."""
    fit_only = [flag for key, flag in _per_row_options(command)
                if getattr(args, f"{key}_file") is not None
                or getattr(args, f"{key}_column") is not None]
    if args.param:
        fit_only.append("--param")
    if getattr(args, "save_model", None) is not None:
        fit_only.append("--save-model")
    if getattr(args, "apply_file", None) is not None:
        fit_only.append(f"--{command.apply_name}")
    if fit_only:
        one = len(fit_only) == 1
        raise CommandError(
            f"--model applies a fitted estimator to INPUT's rows; {', '.join(fit_only)} "
            f"{'is' if one else 'are'} only read by a fit: drop {'it' if one else 'them'}, "
            f"or fit again without --model (skembed {name} ... --save-model FILE)"
        )


def _check_fit_arrays(name, params, args, command):
    """Refuse, before reading anything, a SPLICE fit with no task target."""
    if "target" in command.fit_arrays and params.get("method") == "splice":
        if args.target_file is None and args.target_column is None:
            raise CommandError(
                f"{name} with method=splice needs the task target to keep: pass "
                "--target FILE or --target-column COLUMN"
            )


def _apply(estimator, command, X):
    if command.apply_name == "predict":
        return estimator.predict(X)
    return estimator.transform(X)


def _output_names(estimator, command, X, columns):
    if command.output == "labels":
        return ["label"]
    input_names = columns if columns and len(columns) == X.shape[1] else None
    return list(estimator.get_feature_names_out(input_names))


def run_estimator_command(name, args):
    """Fit the named estimator (or load a saved one), apply it and write its output.

    Returns the warnings raised during the fit that are worth showing.
    """
    command = COMMANDS[name]
    save_path = getattr(args, "save_model", None)
    if (args.input_option or args.input) is None:
        raise CommandError("no input: pass the input file (INPUT or --input FILE)")
    writable = SAMPLE_WRITABLE if command.output == "sample" else WRITABLE
    inputs = _input_paths(args, command)
    # Everything that can be checked without fitting is checked first, so a
    # long fit never ends on an unwritable output or a misspelt parameter.
    check_output(args.output, inputs=inputs, force=args.force, suffixes=writable)
    if save_path is not None:
        if Path(save_path).suffix.lower() != MODEL_SUFFIX:
            raise CommandError(
                f"--save-model {save_path}: a model file's name ends in {MODEL_SUFFIX} "
                f"(e.g. {Path(save_path).with_suffix(MODEL_SUFFIX).name})"
            )
        check_output(save_path, inputs=inputs + [args.output], force=args.force,
                     suffixes=(MODEL_SUFFIX,))
        check_model_support()
    model = getattr(args, "model", None)
    if model is not None:
        _check_model_mode(name, args, command)
        estimator = load_model(model)
        expected = type(command.factory())
        if not isinstance(estimator, expected):
            owner = next((other for other, entry in sorted(COMMANDS.items())
                          if isinstance(estimator, type(entry.factory()))), None)
            raise CommandError(
                f"the model {model} holds a {type(estimator).__name__}, not a "
                f"{expected.__name__}" + (f": apply it with skembed {owner} --model {model}"
                                          if owner else "")
            )
        params = {}
    else:
        estimator = command.factory()
        params = dict(parse_param(text) for text in args.param)
        for param, how in command.required.items():
            if param not in params:
                raise CommandError(f"{name} needs --param {param}=...: {how}")
        _check_fit_arrays(name, params, args, command)
        try:
            estimator.set_params(**params)
        except (ValueError, TypeError) as exc:
            raise CommandError(_fit_message(estimator, exc)) from exc
    if model is not None:
        path = args.input_option or args.input
        X, columns = _read_rows(path, args)
        X, columns = _rows_to_apply(X, columns, getattr(estimator, FIT_COLUMNS, None), path)
        y, arrays = None, {}
    else:
        X, y, arrays, columns = _load_xy(args, command)
        # The fit's column names travel with a saved model, so that applying
        # it matches columns by name, as scikit-learn does with DataFrames.
        setattr(estimator, FIT_COLUMNS,
                list(columns) if columns and len(columns) == X.shape[1] else None)
    apply_file = getattr(args, "apply_file", None)
    if apply_file is not None:
        X_new, new_columns = _read_rows(apply_file, args)
        X_new, new_columns = _rows_to_apply(X_new, new_columns,
                                            getattr(estimator, FIT_COLUMNS, None), apply_file)
        if X_new.ndim != 2 or X_new.shape[1] != X.shape[1]:
            # Checked before the fit, which may take minutes.
            raise CommandError(
                f"{apply_file} has {X_new.shape[1] if X_new.ndim == 2 else 1} column(s) but "
                f"the input has {X.shape[1]}; pass rows with the input's columns"
            )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if model is not None:
                result = _apply(estimator, command, X)
                X_out, out_columns = X, columns
            elif command.output == "sample":
                estimator.fit(X, y, **arrays)
                result = estimator.sample_weight_
            elif apply_file is not None:
                estimator.fit(X, y, **arrays)
                result = _apply(estimator, command, X_new)
                X_out, out_columns = X_new, new_columns
            else:
                fit_apply = (estimator.fit_predict if command.output == "labels"
                             else estimator.fit_transform)
                result = fit_apply(X, y, **arrays) if y is not None or arrays else fit_apply(X)
                X_out, out_columns = X, columns
            if command.output != "sample":
                names = _output_names(estimator, command, X_out, out_columns)
        except Exception as exc:
            if model is not None and not isinstance(exc, (ValueError, TypeError)):
                # A loaded model whose attributes do not fit its class: a
                # damaged file or one saved by another release.
                raise CommandError(
                    f"the model {model} cannot be applied ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''}); it is damaged or was "
                    "saved by another release: fit and save it again"
                ) from exc
            if not _is_fit_failure(exc):
                raise
            raise CommandError(_fit_message(estimator, exc)) from exc
    if hasattr(result, "toarray"):  # sparse output (e.g. top_k similarities)
        result = result.toarray()
    _check_finite(estimator, result, X if apply_file is None else X_new, caught)
    output_existed = Path(args.output).exists()
    if command.output == "sample":
        write_sample(args.output, estimator.sample_indices_, estimator.sample_weight_)
        print(
            f"{name}: wrote {len(estimator.sample_indices_)} of {len(X)} rows "
            f"(indices and weights) to {args.output}"
        )
    else:
        write_table(args.output, np.asarray(result), names)
        print(f"{name}: wrote {np.shape(result)} to {args.output}")
    if save_path is not None:
        # After the output, so that a failed output leaves no model behind; a
        # failed model removes the output this run created.
        try:
            save_model(estimator, save_path)
        except BaseException:
            if not output_existed:
                Path(args.output).unlink(missing_ok=True)
            raise
    if save_path is not None:
        print(f"{name}: saved the fitted {type(estimator).__name__} to {save_path}")
    return [record for record in caught if not _is_floating_point_warning(record)]


# ----------------------------------------------------------------------------
# skembed probe: the guardedness report of an erasure
# ----------------------------------------------------------------------------

PROBE_HELP = ("score a concept erasure: held-out accuracy of linear, quadratic, RBF-SVM "
              "and MLP probes beside the majority rate, and with --original the mean "
              "squared edit and the nearest neighbours kept (guardedness_report)")


def _take_column(values, columns, name):
    """``(column as a target, the other columns, their names)``."""
    position = columns.index(name)
    return (_as_target(values[:, position]), np.delete(values, position, axis=1),
            columns[:position] + columns[position + 1 :])


def _probe_names(text):
    """The ``--probes`` list, checked before any file is read."""
    from .metrics import _check_probe_names

    if text is None:
        return None
    try:
        return _check_probe_names([name.strip() for name in text.split(",") if name.strip()])
    except ValueError as exc:
        problem = str(exc).partition(": ")[2] or str(exc)
        raise CommandError(f"--probes {text!r}: {problem}") from None


def _load_probe_inputs(args):
    """The erased rows, the concept and the original rows (or None), as arrays."""
    X, columns = _read_rows(args.erased, args)
    X_original = original_columns = None
    if args.original is not None:
        X_original, original_columns = _read_rows(args.original, args)
    name = args.concept_column
    if name is not None:
        y = None
        if columns is not None and name in columns:
            y, X, columns = _take_column(X, columns, name)
        if original_columns is not None and name in original_columns:
            # The erase command's output has no concept column; its input does.
            values, X_original, original_columns = _take_column(X_original, original_columns,
                                                                name)
            y = values if y is None else y
        if y is None:
            where = f"{args.erased} (columns: {columns})"
            if args.original is not None:
                where += f" nor of {args.original} (columns: {original_columns})"
            raise CommandError(f"--concept-column {name!r} is not a column of {where}")
    else:
        values, _ = read_table(args.concept_file, n_rows=len(X), header=args.header,
                               index_col=args.index_col)
        y = _as_target(values)
    X = _as_features(X, args.erased, columns, "--concept")
    if X_original is not None:
        X_original = _as_features(X_original, args.original, original_columns, "--concept")
    return X, y, X_original


def _write_records(handle, records):
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(list(records[0]))
    for record in records:
        # repr: the shortest text that reads back as the same float.
        writer.writerow([repr(value) if isinstance(value, float) else value
                         for value in record.values()])
    handle.write(text.getvalue().encode("utf-8"))


def run_probe_command(args):
    """Run :func:`~skembed.metrics.guardedness_report` on files; print and write its table.

    Returns the warnings raised during the run that are worth showing.
    """
    from .metrics import GUARDEDNESS_PROBES, guardedness_report

    probes = _probe_names(args.probes) or GUARDEDNESS_PROBES
    inputs = [args.erased, args.concept_file, args.original]
    # Checked before any file is read or probe fitted.
    check_output(args.output, inputs=inputs, force=args.force, suffixes=(".csv",))
    X, y, X_original = _load_probe_inputs(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            report = guardedness_report(
                X, y, X_original=X_original, probes=probes, test_size=args.test_size,
                cv=args.cv, max_train_samples=args.max_train_samples,
                n_neighbors=args.n_neighbors, random_state=args.random_state,
                n_jobs=args.n_jobs,
            )
        except Exception as exc:
            if not _is_fit_failure(exc):
                raise
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            message = lines[0] if lines else type(exc).__name__
            if isinstance(exc, MemoryError):
                message = (f"out of memory ({message}); pass a smaller --max-train-samples, "
                           "fewer --probes, or a sample of the rows")
            elif not isinstance(exc, (ValueError, TypeError)):
                message = f"{type(exc).__name__}: {message}"
            raise CommandError(message) from exc
    records = report.records()
    write_atomically(args.output, lambda handle: _write_records(handle, records))
    print(report.format())
    print(f"probe: wrote {len(records)} rows to {args.output}")
    return [record for record in caught if not _is_floating_point_warning(record)]


# ----------------------------------------------------------------------------
# The registry: one subcommand per estimator
# ----------------------------------------------------------------------------


def _new_eraser():
    from .erasure import LinearConceptEraser

    return LinearConceptEraser()


COMMANDS["erase"] = EstimatorCommand(
    _new_eraser,
    "remove a concept so no linear probe can recover it (LinearConceptEraser)",
    needs_y=True,
    target_name="concept",
    fit_arrays=("target",),
)


def _new_reducer():
    from .reduction import NNPreservingReducer

    return NNPreservingReducer()


COMMANDS["reduce"] = EstimatorCommand(
    _new_reducer,
    "reduce dimension keeping nearest neighbours (NNPreservingReducer)",
)


def _new_relative():
    from .relative import RelativeRepresentation

    return RelativeRepresentation()


COMMANDS["relative"] = EstimatorCommand(
    _new_relative,
    "represent points by their similarities to anchors (RelativeRepresentation)",
)


def _new_translator():
    from .relative import LatentTranslator

    return LatentTranslator()


COMMANDS["translate"] = EstimatorCommand(
    _new_translator,
    "map rows into a target space fitted on parallel rows (LatentTranslator)",
    needs_y=True,
    target_name="target",
)


def _new_sampler():
    from .sampling import SensitivitySampler

    return SensitivitySampler()


COMMANDS["sample"] = EstimatorCommand(
    _new_sampler,
    "pick weighted rows that preserve a regression's loss (SensitivitySampler; "
    "--param p=1 for absolute-deviation losses)",
    output="sample",
    target_name="target",
)


def _new_clusterer():
    from .cluster import SubspaceClusterer

    return SubspaceClusterer()


COMMANDS["cluster"] = EstimatorCommand(
    _new_clusterer,
    "cluster points lying near a union of subspaces (SubspaceClusterer; "
    "--param n_clusters=K)",
    output="labels",
    required={"n_clusters": "the number of clusters, e.g. --param n_clusters=10, or "
                            "--param n_clusters=auto to read it from the affinity's "
                            "eigengap"},
)


# ----------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line like every other error."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_reading_options(sub):
    """How CSV inputs are read: ``--header``/``--no-header`` and ``--index-col``."""
    header = sub.add_mutually_exclusive_group()
    header.add_argument(
        "--header", dest="header", action="store_const", const=True, default=None,
        help="CSV files have a header row (default: detected, so that both "
        "DataFrame.to_csv(path) and to_csv(path, index=False) read back as written)",
    )
    header.add_argument(
        "--no-header", dest="header", action="store_const", const=False,
        help="CSV files have no header row: the first row is data",
    )
    sub.add_argument(
        "--index-col", default="auto", metavar="COLUMN",
        help="CSV column holding a row index, dropped: a column name, a position "
        "from 0, or 'none'. Default 'auto': an unnamed first column holding "
        "0..n-1 (DataFrame.to_csv's index) is dropped",
    )


def _integer_from(minimum):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the smallest allowed, {minimum}")
        return value

    return parse


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not strictly between 0 and 1")
    return value


def _rows_or_none(text):
    return None if text.strip().lower() == "none" else _integer_from(1)(text)


def _add_probe_parser(subparsers):
    sub = subparsers.add_parser(
        "probe", help=PROBE_HELP,
        description=PROBE_HELP + ". Prints the table and writes it as CSV: a row for the "
        "majority baseline, then one per probe, with columns probe, accuracy, "
        "balanced_accuracy, n_train, n_test, and with --original mean_squared_edit and "
        "neighbour_retention. The probes' settings are fixed (see the docstring of "
        "skembed.metrics.guardedness_report), so reports compare across methods. Fit the "
        "eraser on other rows than those probed: an eraser fit on the probed rows "
        "over-corrects them, and the linear accuracy falls below the majority rate.",
        epilog="Exit status 2 with a one-line message on a bad file, option or output, "
        "or data the probes cannot be fit on.",
    )
    sub.add_argument("erased", metavar="ERASED",
                     help="the embeddings after erasure: .npy, .csv or .parquet")
    sub.add_argument(
        "-o", "--output", required=True, metavar="FILE",
        help="the report, a .csv file. Checked before anything is read or fitted; written "
        "to a temporary file in the same directory and renamed, so a failed run leaves "
        "an existing file intact",
    )
    sub.add_argument(
        "--force", action="store_true",
        help="replace the output if it exists, even when it is an input file",
    )
    concept = sub.add_mutually_exclusive_group(required=True)
    concept.add_argument(
        "--concept", dest="concept_file", metavar="FILE",
        help="the erased concept (.npy, .csv or .parquet): numbers or text labels, one "
        "per row of ERASED",
    )
    concept.add_argument(
        "--concept-column", metavar="COLUMN",
        help="column holding the concept: of ERASED, or else of --original (as the "
        "input of skembed erase --concept-column has it); dropped from the features of "
        "both files",
    )
    sub.add_argument(
        "--original", metavar="FILE",
        help="the same rows before erasure, same columns: adds the mean squared edit and "
        "the share of each row's nearest neighbours kept (neighbour_retention)",
    )
    sub.add_argument(
        "--probes", metavar="LIST",
        help="comma-separated probes, of linear, quadratic, rbf_svm, mlp (default: all "
        "four, in that order)",
    )
    split = sub.add_mutually_exclusive_group()
    split.add_argument("--test-size", type=_fraction, default=0.3, metavar="FRACTION",
                       help="share of the rows held out, stratified (default 0.3)")
    split.add_argument("--cv", type=_integer_from(2), metavar="K",
                       help="stratified K-fold cross-validation instead of one split "
                       "(small data; K times the cost)")
    sub.add_argument("--max-train-samples", type=_rows_or_none, default=5000, metavar="N",
                     help="most training rows of the RBF-SVM, whose cost grows as N^2, "
                     "or 'none' (default 5000)")
    sub.add_argument("--n-neighbors", type=_integer_from(1), default=10, metavar="K",
                     help="neighbours compared per row for neighbour_retention (default 10)")
    sub.add_argument("--random-state", type=_integer_from(0), default=0, metavar="SEED",
                     help="seed of the split, the SVM's rows and the MLP (default 0)")
    sub.add_argument("--n-jobs", type=int, default=None, metavar="N",
                     help="probes fitted in parallel (default: one at a time)")
    _add_reading_options(sub)


def build_parser():
    parser = _Parser(
        prog="skembed",
        description="Geometry of embeddings: concept erasure, neighbour-preserving "
        "reduction, relative representations, coresets, subspace clustering.",
    )
    parser.add_argument("--version", action="version", version=f"skembed {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.add_parser("demo", help="run every estimator on the bundled word sample")
    _add_probe_parser(subparsers)
    for name, command in sorted(COMMANDS.items()):
        writable = SAMPLE_WRITABLE if command.output == "sample" else WRITABLE
        sub = subparsers.add_parser(
            name, help=command.help, description=command.help,
            epilog="Exit status 2 with a one-line message on a bad file, parameter or "
            "output, or a fit that fails.",
        )
        sub.add_argument("input", nargs="?", help="input table: .npy, .csv or .parquet")
        sub.add_argument("--input", dest="input_option", metavar="FILE",
                         help="the input table (as INPUT)")
        sub.add_argument(
            "-o", "--output", required=True, metavar="FILE",
            help=f"output file: {' or '.join(writable)}. Checked before the fit; written "
            "to a temporary file in the same directory and renamed, so a failed run "
            "leaves an existing file intact",
        )
        sub.add_argument(
            "--force", action="store_true",
            help="replace the output if it exists, even when it is an input file "
            "(without --force the command refuses, before the fit)",
        )
        target = sub.add_mutually_exclusive_group()
        target.add_argument(
            f"--{command.target_name}",
            dest="y_file",
            metavar="FILE",
            help=f"{command.target_name} file (.npy, .csv or .parquet); numbers or text "
            "labels, one per input row",
        )
        target.add_argument(
            f"--{command.target_name}-column",
            dest="y_column",
            metavar="COLUMN",
            help=f"column of the input table holding the {command.target_name}",
        )
        for array in command.fit_arrays:
            group = sub.add_mutually_exclusive_group()
            group.add_argument(
                f"--{array}", dest=f"{array}_file", metavar="FILE",
                help=f"{array} file, one value or label per input row (passed to fit as "
                f"{array}=...; method=splice's task target)",
            )
            group.add_argument(
                f"--{array}-column", dest=f"{array}_column", metavar="COLUMN",
                help=f"column of the input table holding the {array}",
            )
        if command.apply_name is not None:
            sub.add_argument(
                "--save-model", metavar="FILE",
                help=f"also write the fitted estimator to FILE ({MODEL_SUFFIX}, skops "
                "format), to apply later with --model",
            )
            sub.add_argument(
                f"--{command.apply_name}", dest="apply_file", metavar="FILE",
                help=f"fit on INPUT, then write the {command.apply_name} of FILE's rows "
                "(same columns as INPUT) instead of INPUT's",
            )
            sub.add_argument(
                "--model", metavar="FILE",
                help=f"apply a fitted estimator saved with --save-model to INPUT's rows "
                f"({command.apply_name}; nothing is fitted). Loading trusts only "
                "skembed's classes and SciPy's sparse matrices, and refuses any other "
                "type the file names",
            )
        _add_reading_options(sub)
        sub.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="estimator parameter (repeatable), e.g. --param random_state=0; VALUE is "
            "a Python literal (never evaluated as code) or else a string",
        )
    return parser


def main(argv=None):
    """Run the ``skembed`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    shown = []
    # Warnings are held back: a failing command prints its one error line
    # only, and a successful one each distinct warning once, on one line.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if args.command == "demo":
                from ._demo import run_demo

                run_demo()
                shown = caught
            elif args.command == "probe":
                shown = run_probe_command(args)
            else:
                shown = run_estimator_command(args.command, args)
        except (CommandError, TableError, ImportError) as exc:
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            print(f"skembed {args.command}: error: {lines[0]}", file=sys.stderr)
            return EXIT_USAGE
    seen = set()
    for record in shown:
        text = str(record.message).strip().splitlines()[0] if str(record.message).strip() else ""
        key = (record.category.__name__, text)
        if key not in seen:
            seen.add(key)
            print(f"skembed {args.command}: warning: {key[0]}: {text}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
