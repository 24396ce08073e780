"""Checking receipt files: every signature, and the numbering of each series.

The files come from a folder (every ``*.xml`` below it) or from an export ZIP
(:mod:`recon.receipts.export`: the signed XML files, ``manifest.csv`` and the register).
Each document's signature is verified (:func:`recon.receipts.signing.verify`) and its form
code, series and number read, and the MST of the organisation that issued it (numbers
are per organisation: migration 0027). Per (organisation, form code, series) the report gives
how many, the first and last number, the numbers used twice (with their files) and the
numbers **missing**:

- with a manifest (an export, zipped or unzipped), the numbers the manifest's register lists
  from its first to its last number, less the spoiled ones it names (a spoiled number has no
  file; the register keeps its reason), that no file carries; the manifest's own holes, and
  files that differ from it (absent, another sha256, not listed), are named too;
- without one, the numbers from 1 to the last found (numbers restart at 1 each year).
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from recon.receipts.signing import SignatureInvalid, verify

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = ("file", "form_code", "series", "number", "status", "sha256", "tax_code")
#: the manifest of exports made before receipts were numbered per organisation (0027)
OLD_MANIFEST_COLUMNS = MANIFEST_COLUMNS[:-1]


@dataclass
class SeriesReport:
    form_code: str
    series: str
    files: dict[int, list[str]] = field(default_factory=dict)
    expected: tuple[int, int] | None = None  # (first, last) from a manifest
    spoiled: set[int] = field(default_factory=set)
    tax_code: str = ""  # the organisation (its MST) numbering this series; '' none stated

    @property
    def label(self) -> str:
        """``EBL01 21T``, or ``MST 0101234567 EBL01 21T`` for an organisation's own."""
        own = f"MST {self.tax_code} " if self.tax_code else ""
        return f"{own}{self.form_code} {self.series}"

    @property
    def first(self) -> int:
        if self.expected is not None:
            return self.expected[0]
        return min(self.files, default=0)

    @property
    def last(self) -> int:
        if self.expected is not None:
            return max(self.expected[1], max(self.files, default=0))
        return max(self.files, default=0)

    @property
    def missing(self) -> list[int]:
        low = self.expected[0] if self.expected is not None else 1
        return [n for n in range(low, self.last + 1)
                if n not in self.files and n not in self.spoiled]

    @property
    def duplicates(self) -> dict[int, list[str]]:
        return {n: names for n, names in sorted(self.files.items()) if len(names) > 1}

    def missing_vi(self) -> str:
        """``thiếu số 00000123 của mẫu EBL01 ký hiệu 21T`` (ranges: ``00000003–00000004``)."""
        spans = ranges(self.missing, width=8)
        word = "số" if len(self.missing) == 1 else "các số"
        whose = f" của đơn vị MST {self.tax_code}" if self.tax_code else ""
        return f"thiếu {word} {spans} của mẫu {self.form_code} ký hiệu {self.series}{whose}"


@dataclass
class DirectoryReport:
    checked: int = 0
    # by (organisation's MST, form code, series): numbers are per organisation
    series: dict[tuple[str, str, str], SeriesReport] = field(default_factory=dict)
    bad: list[tuple[str, str]] = field(default_factory=list)  # (file, what is wrong)
    manifest: bool = False

    @property
    def ok(self) -> bool:
        return not self.bad and all(not s.missing and not s.duplicates
                                    for s in self.series.values())


def ranges(numbers: list[int], width: int = 0) -> str:
    """1, 2, 3, 7, 9, 10 -> "1–3, 7, 9–10" (pure); ``width`` pads each number with zeros."""
    spans: list[list[int]] = []
    for n in sorted(numbers):
        if spans and spans[-1][1] == n - 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(f"{a:0{width}d}" if a == b else f"{a:0{width}d}–{b:0{width}d}"
                     for a, b in spans)


Entry = tuple[str, Callable[[], bytes]]


def _directory_entries(folder: Path) -> Iterator[Entry]:
    for path in sorted(folder.rglob("*.xml")):
        yield str(path.relative_to(folder)), path.read_bytes


def _zip_entries(archive: zipfile.ZipFile) -> Iterator[Entry]:
    for name in sorted(archive.namelist()):
        if name.lower().endswith(".xml"):
            yield name, (lambda n=name: archive.read(n))  # type: ignore[misc]


def count_files(path: Path) -> int:
    """How many receipt files ``path`` (a folder or an export ZIP) holds, for progress."""
    if path.is_dir():
        return sum(1 for _ in path.rglob("*.xml"))
    with zipfile.ZipFile(path) as archive:
        return sum(1 for n in archive.namelist() if n.lower().endswith(".xml"))


def check_path(path: Path, *, progress: Callable[[int], None] | None = None
               ) -> DirectoryReport:
    """Check a folder or an export ZIP. A file that is not a ZIP raises ``ValueError``."""
    if path.is_dir():
        manifest_file = path / MANIFEST
        manifest = manifest_file.read_bytes() if manifest_file.is_file() else None
        return check_entries(_directory_entries(path), manifest, progress=progress)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is neither a folder nor a ZIP made by `recon receipts "
                         "export`")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        manifest = archive.read(MANIFEST) if MANIFEST in names else None
        return check_entries(_zip_entries(archive), manifest, progress=progress)


def check_directory(folder: Path, *,
                    progress: Callable[[int], None] | None = None) -> DirectoryReport:
    return check_path(folder, progress=progress)


def _manifest_rows(raw: bytes) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
    if tuple(reader.fieldnames or ()) not in (MANIFEST_COLUMNS, OLD_MANIFEST_COLUMNS):
        raise ValueError(f"{MANIFEST}: the columns must be {', '.join(MANIFEST_COLUMNS)}")
    return list(reader)


def check_entries(entries: Iterable[Entry], manifest: bytes | None = None, *,
                  progress: Callable[[int], None] | None = None) -> DirectoryReport:
    report = DirectoryReport(manifest=manifest is not None)
    found: dict[tuple[str, str, str], dict[int, list[str]]] = defaultdict(
        lambda: defaultdict(list))
    digests: dict[str, str] = {}
    for name, read in entries:
        report.checked += 1
        if progress:
            progress(1)
        try:
            document = read()
            digests[name] = hashlib.sha256(document).hexdigest()
            verify(document)
            root = etree.fromstring(document, etree.XMLParser(resolve_entities=False,
                                                              no_network=True))
            form_code = root.findtext("DLCTu/TTChung/KHMSCTu") or ""
            series = root.findtext("DLCTu/TTChung/KHCTu") or ""
            tax_code = root.findtext("DLCTu/NDCTu/TCThu/MST") or ""
            number = int(root.findtext("DLCTu/TTChung/SCTu") or "")
        except SignatureInvalid as exc:
            report.bad.append((name, f"signature: {exc}"))
            continue
        except (OSError, KeyError, ValueError, etree.XMLSyntaxError) as exc:
            report.bad.append((name, f"unreadable receipt: {exc}"))
            continue
        found[(tax_code, form_code, series)][number].append(name)
    for (tax_code, form_code, series), files in sorted(found.items()):
        report.series[(tax_code, form_code, series)] = SeriesReport(
            form_code, series, dict(files), tax_code=tax_code)
    if manifest is not None:
        _against_manifest(report, manifest, digests)
    return report


def _against_manifest(report: DirectoryReport, raw: bytes, digests: dict[str, str]) -> None:
    try:
        rows = _manifest_rows(raw)
    except (UnicodeDecodeError, csv.Error, ValueError) as exc:
        report.bad.append((MANIFEST, f"unreadable manifest: {exc}"))
        return
    listed: set[str] = set()
    numbers: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    for row in rows:
        key = (row.get("tax_code") or "", row["form_code"], row["series"])
        try:
            number = int(row["number"])
        except ValueError:
            report.bad.append((MANIFEST, f"not a number: {row['number']!r}"))
            continue
        numbers[key].add(number)
        series = report.series.setdefault(key, SeriesReport(key[1], key[2], tax_code=key[0]))
        if row["status"] == "spoiled":
            series.spoiled.add(number)
            continue
        name = row["file"]
        listed.add(name)
        if name not in digests:
            continue  # named as a missing number below
        if digests[name] != row["sha256"]:
            report.bad.append((name, "its sha256 is not the manifest's: the file was changed "
                                     "after the export"))
    for key, seen in numbers.items():
        series = report.series[key]
        series.expected = (min(seen), max(seen))
        holes = [n for n in range(min(seen), max(seen) + 1) if n not in seen]
        if holes:
            report.bad.append((MANIFEST, f"the register lists no number {ranges(holes, 8)} of "
                                         f"{series.label}"))
    for name in sorted(set(digests) - listed):
        report.bad.append((name, "not listed in the manifest"))
