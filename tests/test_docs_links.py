"""The README and docs/ point only at files and headings that exist.

Pages move and get split; a link that no longer resolves sends a newcomer nowhere, and nobody
notices by reading. Code comments that cite a docs page are checked the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.paths import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCE_DIRS = ("selector", "pseudolabel", "train", "eval", "tests")

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
DOCS_REFERENCE = re.compile(r"\bdocs/[\w./-]+\.(?:md|png)")
# The team's design notes (architecture, benchmark and peer research) are not shipped with the
# package; a comment citing them by bare name sends a reader to a file they do not have.
UNSHIPPED_NOTE = re.compile(r"(?<![\w/])(?:architecture|benchmarks|ecosystem|method|peers)\.md\b")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a page, with GitHub's -1, -2 suffixes for repeated headings."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def relative_links(page: Path) -> list[str]:
    """Link targets outside code (fenced blocks and inline code are examples, not links)."""
    text = INLINE_CODE.sub("", FENCE.sub("", page.read_text()))
    return [t for t in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def test_slug_follows_github() -> None:
    assert slug("Hand-off to downstream models (`selector.handoff`)") == "hand-off-to-downstream-models-selectorhandoff"
    assert slug("The paper's read-out (`query_mlp`): a second round") == "the-papers-read-out-query_mlp-a-second-round"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_docs_cited_in_code_exist() -> None:
    broken = [
        f"{source.relative_to(ROOT)}: {ref}"
        for folder in SOURCE_DIRS
        for source in (ROOT / folder).rglob("*.py")
        for ref in DOCS_REFERENCE.findall(source.read_text())
        if not (ROOT / ref).exists()
    ]
    assert not broken, "docs pages cited in code that do not exist: " + "; ".join(broken)


def test_code_cites_no_unshipped_notes() -> None:
    cited = [
        f"{source.relative_to(ROOT)}: {match}"
        for folder in SOURCE_DIRS
        for source in (ROOT / folder).rglob("*.py")
        if source.name != Path(__file__).name
        for match in UNSHIPPED_NOTE.findall(source.read_text())
        if not (ROOT / "docs" / match).exists()
    ]
    assert not cited, "design notes cited in code but not in the repository (cite a docs/ page): " + "; ".join(cited)
