"""What the upgrade tool found in one file: the changes it made and the uses it could not map."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Change:
    """One rewrite: `old` source at `line` became `new` (`new` is '(removed)' for a dropped import)."""

    line: int
    old: str
    new: str

    def format(self, path: str) -> str:
        return f"{path}:{self.line}: {self.old} -> {self.new}"


@dataclasses.dataclass(frozen=True)
class Unmapped:
    """A use the tool left alone because this library has no equivalent; `advice` says what to do."""

    line: int
    code: str
    advice: str

    def format(self, path: str) -> str:
        return f"{path}:{self.line}: cannot map {self.code}: {self.advice}"


@dataclasses.dataclass(frozen=True)
class FileResult:
    """The upgraded source of one file with everything the tool did and could not do."""

    path: str
    original: str
    upgraded: str
    changes: tuple[Change, ...]
    unmapped: tuple[Unmapped, ...]

    @property
    def changed(self) -> bool:
        return self.upgraded != self.original

    def report_lines(self) -> list[str]:
        """Changes and unmapped uses, in line order, one line each."""
        entries = [(c.line, 0, c.format(self.path)) for c in self.changes]
        entries += [(u.line, 1, u.format(self.path)) for u in self.unmapped]
        return [text for _, _, text in sorted(entries, key=lambda entry: (entry[0], entry[1]))]


def one_line(code: str) -> str:
    """Collapses a multi-line snippet so each report entry stays on one line."""
    return " ".join(code.split())
