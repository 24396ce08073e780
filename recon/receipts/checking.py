"""Checking a folder of receipt files: every signature, and the numbering of each series.

``check_directory`` reads every ``*.xml`` below a folder, verifies each signature
(:func:`recon.receipts.signing.verify`), reads the form code, series and number, and reports per
(form code, series): how many, the last number, the numbers used twice and the numbers missing
from 1..last (a spoiled number is missing from the files; the register explains it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from recon.receipts.numbering import gaps
from recon.receipts.signing import SignatureInvalid, verify


@dataclass
class SeriesReport:
    form_code: str
    series: str
    files: dict[int, list[str]] = field(default_factory=dict)

    @property
    def last(self) -> int:
        return max(self.files, default=0)

    @property
    def missing(self) -> list[int]:
        return gaps(list(self.files))

    @property
    def duplicates(self) -> dict[int, list[str]]:
        return {n: names for n, names in sorted(self.files.items()) if len(names) > 1}


@dataclass
class DirectoryReport:
    checked: int = 0
    series: dict[tuple[str, str], SeriesReport] = field(default_factory=dict)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (file, what is wrong)

    @property
    def ok(self) -> bool:
        return not self.bad and all(not s.missing and not s.duplicates
                                    for s in self.series.values())


def ranges(numbers: list[int]) -> str:
    """1, 2, 3, 7, 9, 10 -> "1–3, 7, 9–10" (pure)."""
    parts: list[str] = []
    for n in sorted(numbers):
        if parts and int(parts[-1].split("–")[-1]) == n - 1:
            parts[-1] = f"{parts[-1].split('–')[0]}–{n}"
        else:
            parts.append(str(n))
    return ", ".join(parts)


def check_directory(folder: Path, *,
                    progress: Callable[[int], None] | None = None) -> DirectoryReport:
    report = DirectoryReport()
    found: dict[tuple[str, str], dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(folder.rglob("*.xml")):
        name = str(path.relative_to(folder))
        report.checked += 1
        if progress:
            progress(1)
        try:
            document = path.read_bytes()
            verify(document)
            root = etree.fromstring(document, etree.XMLParser(resolve_entities=False,
                                                              no_network=True))
            form_code = root.findtext("DLCTu/TTChung/KHMSCTu") or ""
            series = root.findtext("DLCTu/TTChung/KHCTu") or ""
            number = int(root.findtext("DLCTu/TTChung/SCTu") or "")
        except SignatureInvalid as exc:
            report.bad.append((name, f"signature: {exc}"))
            continue
        except (OSError, ValueError, etree.XMLSyntaxError) as exc:
            report.bad.append((name, f"unreadable receipt: {exc}"))
            continue
        found[(form_code, series)][number].append(name)
    for (form_code, series), files in sorted(found.items()):
        report.series[(form_code, series)] = SeriesReport(form_code, series, dict(files))
    return report
