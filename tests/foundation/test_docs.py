"""The documentation holds together: every relative link in README.md and docs/*.md leads to a
file that exists (and to a heading that exists, when it names one), and every RECON_* variable
the code reads is in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
EXPLICIT_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")


def _prose(text: str) -> list[str]:
    """The lines of a Markdown file outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose(path.read_text(encoding="utf-8")):
        found.update(EXPLICIT_ANCHOR.findall(line))
        match = HEADING.match(line)
        if match:
            slug = github_slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def relative_links(path: Path) -> list[str]:
    links = []
    for line in _prose(path.read_text(encoding="utf-8")):
        for target in LINK.findall(line):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
                links.append(target)
    return links


def test_the_documents_exist() -> None:
    names = {p.name for p in DOCUMENTS}
    assert {"README.md", "design.md", "operations.md", "benchmarks.md", "providers.md",
            "security.md"} <= names


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for target in relative_links(document):
        file_part, _, anchor = target.partition("#")
        destination = (document.parent / file_part).resolve() if file_part else document
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.name}")
    assert broken == [], f"{document.name}: {broken}"


def test_the_link_checker_sees_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Two words\n\nSee [x](other.md), [y](#two-words), "
                    "[z](#nowhere), [w](https://example.com).\n```\n[not](a-link.md)\n```\n",
                    encoding="utf-8")
    assert relative_links(page) == ["other.md", "#two-words", "#nowhere"]
    assert anchors(page) == {"title", "two-words"}
    assert github_slug("3. Callback") == "3-callback"
    assert github_slug("Dossier import (`bench/import_dossiers.py`)") == (
        "dossier-import-benchimport_dossierspy")


# variables the code reads: literal RECON_* names, and names read through Settings.get("NAME")
# or a typed helper taking (settings, "NAME")
_LITERAL = re.compile(r"\bRECON_[A-Z0-9_]*[A-Z0-9]\b")
_THROUGH_SETTINGS = re.compile(
    r"""(?:settings\.get\(\s*|\(\s*settings\s*,\s*)["']([A-Z][A-Z0-9_]*[A-Z0-9])["']""")
NOT_VARIABLES = {"RECON_SETTINGS"}  # an app.config key, not an environment variable


def read_variables() -> set[str]:
    names: set[str] = set()
    sources = [*(ROOT / "recon").rglob("*.py"), *(ROOT / "adapters").rglob("*.py"),
               *(ROOT / "deploy").iterdir()]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        names.update(_LITERAL.findall(text))
        names.update(f"RECON_{name}" for name in _THROUGH_SETTINGS.findall(text))
    return names - NOT_VARIABLES


def test_every_variable_the_code_reads_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    variables = read_variables()
    assert {"RECON_DATABASE_URL", "RECON_LOGIN_MAX_FAILURES", "RECON_BIND"} <= variables
    missing = sorted(
        name for name in variables
        if name not in readme
        # a rotation twin is documented with its secret ("each signing secret ... _PREVIOUS")
        and not (name.endswith("_PREVIOUS") and name.removesuffix("_PREVIOUS") in readme))
    assert missing == []
