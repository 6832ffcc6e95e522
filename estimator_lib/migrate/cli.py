"""`upgrade`: rewrites tf.estimator / TPUEstimator code to estimator_lib names.

Exit status: 0 when done (or, with --check, when nothing needs changing); 1 with --check when a file
needs changes (automatic ones, or uses the tool cannot map unless --ignore-unmapped); 2 for a bad
argument, a missing path or a file that cannot be read or parsed.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from typing import TextIO

from estimator_lib.migrate import files
from estimator_lib.migrate.report import FileResult
from estimator_lib.migrate.rewrite import UpgradeError, upgrade_source

EXIT_OK, EXIT_NEEDS_CHANGES, EXIT_ERROR = 0, 1, 2
DEFAULT_PROG = "estimator-pipelines upgrade"


def build_parser(prog: str = DEFAULT_PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Rewrite tf.estimator, tf.compat.v1.estimator, tf.estimator.tpu, tf.contrib.tpu and tensorflow_estimator "
            "names to estimator_lib, keeping formatting and comments. Prints every change as "
            "'file:line: old -> new' and every use it cannot map with what to do instead."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help=".py files or directories (searched recursively)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--in-place", "-i", action="store_true", help="rewrite the files where they are")
    where.add_argument(
        "--output", "-o", metavar="OUT",
        help="write the upgraded tree (or file) here instead; other files of a tree are copied unchanged",
    )
    where.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 if any file needs changes, 0 otherwise",
    )
    parser.add_argument(
        "--diff", action="store_true", help="print a unified diff of the changes (the report goes to stderr)"
    )
    parser.add_argument(
        "--ignore-unmapped",
        action="store_true",
        help="with --check, fail only on changes the tool can make, not on uses it cannot map",
    )
    parser.add_argument(
        "--v1-layers",
        choices=("estimator_lib", "tf-keras"),
        default="estimator_lib",
        help="how tf.layers / tf.compat.v1.layers are served: rewritten to estimator_lib.layers (default, same "
        "variable names, no Keras switch), or left for tf-keras with TF_USE_LEGACY_KERAS=1 (not reported)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the summary line")
    return parser


def main(argv: list[str] | None = None, *, prog: str = DEFAULT_PROG) -> int:
    """Runs the upgrade command; returns the exit status instead of exiting (callers delegate to it)."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as stop:  # argparse already printed the usage error or the help
        return int(stop.code or 0)
    if not (args.in_place or args.output or args.check or args.diff):
        parser.print_usage(sys.stderr)
        print(
            f"{prog}: error: say what to do with the result: --in-place, --output OUT, --check or --diff.",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if args.ignore_unmapped and not args.check:
        print(f"{prog}: error: --ignore-unmapped only applies with --check.", file=sys.stderr)
        return EXIT_ERROR
    try:
        jobs, copies = files.plan_jobs(args.paths, args.output)
    except files.PathError as error:
        print(str(error).replace("upgrade:", f"{prog}:", 1), file=sys.stderr)
        return EXIT_ERROR
    return _run(jobs, copies, args, prog)


def _run(jobs: list[files.Job], copies: list[tuple[str, str]], args: argparse.Namespace, prog: str) -> int:
    report: TextIO = sys.stderr if args.diff else sys.stdout
    write = bool(args.in_place or args.output)
    failures = 0
    results: list[FileResult] = []
    for job in jobs:
        try:
            result = upgrade_source(files.read_text(job.source), job.display, layers_route=args.v1_layers)
        except (UpgradeError, UnicodeDecodeError, OSError) as error:
            print(f"{prog}: error: {job.display}: {error}", file=sys.stderr)
            failures += 1
            continue
        results.append(result)
        if not args.quiet:
            for line in result.report_lines():
                print(line, file=report)
        if args.diff and result.changed:
            sys.stdout.writelines(
                difflib.unified_diff(
                    result.original.splitlines(keepends=True),
                    result.upgraded.splitlines(keepends=True),
                    fromfile=job.display if os.path.isabs(job.display) else f"a/{job.display}",
                    tofile=job.display if os.path.isabs(job.display) else f"b/{job.display}",
                )
            )
        if write and (result.changed or job.destination != job.source):
            files.write_text(job.destination, result.upgraded, like=job.source)
    if write:
        for source, destination in copies:
            files.copy_file(source, destination)

    changed = sum(result.changed for result in results)
    n_changes = sum(len(result.changes) for result in results)
    n_unmapped = sum(len(result.unmapped) for result in results)
    verb = "changed" if write else "would change"
    print(
        f"{prog}: {len(results)} file(s) scanned, {changed} {verb}, {n_changes} change(s), "
        f"{n_unmapped} use(s) to port by hand" + (f", {failures} file(s) failed" if failures else "") + ".",
        file=report,
    )
    if failures:
        return EXIT_ERROR
    if args.check and (changed or (n_unmapped and not args.ignore_unmapped)):
        return EXIT_NEEDS_CHANGES
    return EXIT_OK
