"""The ``skembed`` command: a demo, and one subcommand per estimator.

``skembed demo`` runs every implemented estimator on the word sample shipped
with the package and prints one figure for each. Each estimator also gets a
subcommand that reads a table (``.npy``, ``.csv`` or ``.parquet``), fits the
estimator and writes the result (``.npy`` or ``.csv``)::

    skembed NAME INPUT -o OUTPUT [--y FILE | --y-column COLUMN] [--param NAME=VALUE ...]

A bad file or parameter ends the command with status 2 and a one-line
message on standard error, never a traceback.

Adding an estimator's subcommand is one entry in :data:`COMMANDS`; adding its
part of the demo is one function in :data:`skembed._demo.DEMOS`.
"""

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__

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
    """

    factory: object
    help: str
    needs_y: bool = False
    output: str = "transform"
    target_name: str = "y"


#: Subcommand name -> how to run it. Estimator modules are imported lazily
#: inside the factories, so ``skembed --version`` stays fast.
COMMANDS = {}


# ----------------------------------------------------------------------------
# Reading and writing tables
# ----------------------------------------------------------------------------


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(path):
    """Read a numeric table, returning ``(values, column_names or None)``."""
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"cannot read {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            values = np.load(path, allow_pickle=False)
            return values, None
        if suffix == ".csv":
            with path.open() as handle:
                first = handle.readline().strip()
            cells = [cell.strip() for cell in first.split(",")]
            has_header = not all(_is_number(cell) for cell in cells)
            values = np.loadtxt(path, delimiter=",", skiprows=int(has_header), ndmin=2)
            return values, (cells if has_header else None)
        if suffix == ".parquet":
            try:
                import pandas as pd

                frame = pd.read_parquet(path)
            except ImportError as exc:
                raise CommandError(
                    "reading .parquet needs pandas and pyarrow: pip install pandas pyarrow"
                ) from exc
            return frame.to_numpy(), [str(c) for c in frame.columns]
    except (ValueError, OSError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc
    raise CommandError(
        f"cannot read {path}: unknown file type {suffix!r}; use .npy, .csv or .parquet"
    )


def write_table(path, values, column_names=None):
    """Write an array to ``.npy`` or ``.csv`` (with a header when names are known)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, values)
    elif suffix == ".csv":
        values = values.reshape(len(values), -1)
        header = ",".join(column_names) if column_names is not None else ""
        fmt = "%d" if np.issubdtype(values.dtype, np.integer) else "%.9g"
        np.savetxt(path, values, delimiter=",", header=header, comments="", fmt=fmt)
    else:
        raise CommandError(
            f"cannot write {path}: unknown file type {suffix!r}; use .npy or .csv"
        )


def _write_sample(path, indices, sample_weight):
    """Write a sampler's rows: ``.npz`` (``indices``, ``sample_weight``) or ``.csv``."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        np.savez(path, indices=indices, sample_weight=sample_weight)
    else:
        table = np.column_stack([indices, sample_weight])
        np.savetxt(
            path, table, delimiter=",", header="index,sample_weight", comments="",
            fmt=["%d", "%.17g"],
        )


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


def _load_xy(args, command):
    path = args.input_option or args.input
    if path is None:
        raise CommandError("no input: pass the input file (INPUT or --input FILE)")
    X, columns = read_table(path)
    flag = f"--{command.target_name}"
    y = None
    if args.target_column is not None:
        if columns is None or args.target_column not in columns:
            raise CommandError(
                f"{flag}-column {args.target_column!r} is not a column of {path} "
                f"(columns: {columns})"
            )
        position = columns.index(args.target_column)
        y = X[:, position]
        X = np.delete(X, position, axis=1)
        columns = columns[:position] + columns[position + 1 :]
    elif args.target_file is not None:
        y, _ = read_table(args.target_file)
        y = y.ravel() if y.ndim == 2 and y.shape[1] == 1 else y
    if command.needs_y and y is None:
        raise CommandError(
            f"this estimator needs a target: pass {flag} FILE or {flag}-column NAME"
        )
    return X, y, columns


def run_estimator_command(name, args):
    """Fit the named estimator on the input file and write its output."""
    command = COMMANDS[name]
    writable = SAMPLE_WRITABLE if command.output == "sample" else WRITABLE
    if Path(args.output).suffix.lower() not in writable:
        raise CommandError(
            f"cannot write {args.output}: unknown file type; use {' or '.join(writable)}"
        )
    X, y, columns = _load_xy(args, command)
    estimator = command.factory()
    params = dict(parse_param(text) for text in args.param)
    try:
        estimator.set_params(**params)
        if command.output == "labels":
            result = estimator.fit_predict(X, y)
            names = ["label"]
        elif command.output == "sample":
            estimator.fit(X, y)
            _write_sample(args.output, estimator.sample_indices_, estimator.sample_weight_)
            print(
                f"{name}: wrote {len(estimator.sample_indices_)} of {len(X)} rows "
                f"(indices and weights) to {args.output}"
            )
            return
        else:
            result = estimator.fit_transform(X, y) if y is not None else estimator.fit_transform(X)
            input_names = columns if columns and len(columns) == X.shape[1] else None
            names = list(estimator.get_feature_names_out(input_names))
    except (ValueError, TypeError) as exc:
        raise CommandError(str(exc).splitlines()[0]) from exc
    if hasattr(result, "toarray"):  # sparse output (e.g. top_k similarities)
        result = result.toarray()
    write_table(args.output, np.asarray(result), names)
    print(f"{name}: wrote {np.shape(result)} to {args.output}")


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
    "cluster points lying near a union of subspaces (SubspaceClusterer)",
    output="labels",
)


# ----------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------


def build_parser():
    parser = argparse.ArgumentParser(
        prog="skembed",
        description="Geometry of embeddings: concept erasure, neighbour-preserving "
        "reduction, relative representations, coresets, subspace clustering.",
    )
    parser.add_argument("--version", action="version", version=f"skembed {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.add_parser("demo", help="run every estimator on the bundled word sample")
    for name, command in sorted(COMMANDS.items()):
        sub = subparsers.add_parser(name, help=command.help)
        sub.add_argument("input", nargs="?", help="input table: .npy, .csv or .parquet")
        sub.add_argument("--input", dest="input_option", help="the input table (as INPUT)")
        sub.add_argument("-o", "--output", required=True, help="output file: .npy or .csv")
        target = sub.add_mutually_exclusive_group()
        target.add_argument(
            f"--{command.target_name}",
            dest="target_file",
            help=f"{command.target_name} file (.npy, .csv or .parquet)",
        )
        target.add_argument(
            f"--{command.target_name}-column",
            dest="target_column",
            help=f"column of the input table holding the {command.target_name}",
        )
        sub.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="estimator parameter (repeatable), e.g. --param random_state=0",
        )
    return parser


def main(argv=None):
    """Run the ``skembed`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "demo":
            from ._demo import run_demo

            run_demo()
        else:
            run_estimator_command(args.command, args)
    except (CommandError, ImportError) as exc:
        print(f"skembed {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
