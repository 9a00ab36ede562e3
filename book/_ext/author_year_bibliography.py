"""The bibliography labelled the way the book cites: author and year, not numbers.

The chapters cite author-year (`bibtex_reference_style: author_year`: "Ferrante et al.
(2022)"), but pybtex's own styles label the list with numbers or alpha keys. This Sphinx
extension registers a pybtex formatting style `author_year`, pybtex's `plain` entries
(sorted by author, year and title; DOIs and arXiv numbers as links) with labels that read
like the parenthetical citations: "Chen et al., 2020", "van der Maaten and Hinton, 2008".
_config.yml loads it (`sphinx.local_extensions`) and sets it as `bibtex_default_style`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from string import ascii_lowercase

from pybtex.database import Entry, Person
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle

STYLE = "author_year"


def _surname(person: Person) -> str:
    """'van der Maaten' for 'van der Maaten, Laurens', LaTeX accents resolved."""
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_year_label(entry: Entry) -> str:
    """One author, two joined by 'and', or the first 'et al.'; then ', ' and the year, as
    sphinxcontrib-bibtex's author-year citations name them."""
    names = [_surname(p) for p in entry.persons.get("author") or entry.persons.get("editor") or []]
    if not names:
        who = Text.from_latex(entry.fields.get("title", entry.key)).render_as("text")
    elif len(names) <= 2:
        who = " and ".join(names)
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Author-year labels; two entries that would share one get 'a', 'b', ... after the year."""

    def format_labels(self, sorted_entries: Iterable[Entry]) -> Iterator[str]:
        labels = [author_year_label(entry) for entry in sorted_entries]
        shared, seen = Counter(labels), Counter()
        for label in labels:
            seen[label] += 1
            yield label + ascii_lowercase[seen[label] - 1] if shared[label] > 1 else label


class AuthorYearStyle(PlainStyle):
    """pybtex's plain entries under author-year labels."""

    default_label_style = STYLE


def register() -> None:
    """Make the style known to pybtex (and so to sphinxcontrib-bibtex) as `author_year`."""
    register_plugin("pybtex.style.labels", STYLE, AuthorYearLabelStyle, force=True)
    register_plugin("pybtex.style.formatting", STYLE, AuthorYearStyle, force=True)


def setup(app) -> dict:
    register()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
