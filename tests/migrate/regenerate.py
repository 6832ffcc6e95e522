"""Rewrites expected.py and expected_report.txt of every sample case from the tool's current output.

Run after a deliberate change to the tool, then read `git diff tests/migrate/data` before committing.
"""

import os

from estimator_lib.migrate.rewrite import upgrade_source

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def main() -> None:
    for case in sorted(os.listdir(DATA)):
        source_path = os.path.join(DATA, case, "input.py")
        if not os.path.exists(source_path):
            continue
        with open(source_path, encoding="utf-8", newline="") as handle:
            result = upgrade_source(handle.read(), "input.py")
        with open(os.path.join(DATA, case, "expected.py"), "w", encoding="utf-8", newline="") as handle:
            handle.write(result.upgraded)
        with open(os.path.join(DATA, case, "expected_report.txt"), "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in result.report_lines()))
        print(f"{case}: {len(result.changes)} change(s), {len(result.unmapped)} unmapped")


if __name__ == "__main__":
    main()
