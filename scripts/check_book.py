"""Open the built book in headless Chromium and check what a reader would see.

For every page in `_toc.yml`: the page loads and shows its title, it references no
remote resource (the book must work offline), every <img> points to an existing file,
typeset maths has been rendered by MathJax (no raw TeX left), and notebook pages carry a
Binder launch button, its closing "**Next:**" paragraph leads first to the page that
follows it in the toc (`next_link_problems`; the last page has none), and no decimal
number is typed into the prose: every number a page states outside code, maths and
notebook outputs must come from code at build time (an element of class `cae-generated`:
the fragments and numbers of book/generated/) or be named, with its reason, in
TYPED_NUMBERS_ALLOWED (`--numbers-only` runs that check alone, on the built files, without
Chromium). Page-specific checks live in PAGE_CHECKS (the Table 1 page must open with its
at-a-glance grid, every cell coloured met, missed or untrained, and the forest plot).
Screenshots of the method and Table 1 pages go to _build/screenshots/.

Then every page is opened at each of OVERFLOW_WIDTHS, 1300, 1024 and 420 px (through the
DevTools protocol, scripts/devtools.py) and its main column measured: the page must not
scroll sideways, no element may reach past the column, and no table, code block or figure
may be cut off inside a horizontal scroll box (below SCROLL_BOXES_BELOW, a phone's width,
a wide table may scroll inside its own box). The widths and the widest table are printed
per page.

The prototype explorer (book/explorer.md) runs its decoder with WebAssembly, which
browsers load only over HTTP: the book is served from a local port, the explorer must
start, redraw its image when a weight slider and then the temperature slider are clicked
(the canvas pixels must change each time), fit its column at every width, and add no
error to the console beyond those the book's first page shows too (the theme's; they are
printed). Its screenshot goes to _build/screenshots/explorer.png.

Usage: .venv/bin/python scripts/check_book.py [--html _build/html] [--toc _toc.yml] [--numbers-only]
Exits non-zero and lists every failure when a check fails. Needs Chromium
(Debian: apt-get install -y chromium) and PyYAML.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml
from devtools import Browser, DevToolsError

ROOT = Path(__file__).resolve().parent.parent

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--hide-scrollbars",
    # let MathJax typeset before the DOM is dumped or the screenshot taken
    "--virtual-time-budget=10000",
]
CHROMIUM_TIMEOUT_S = 90

# page (toc file, without suffix) -> (screenshot file name, window height in pixels)
SCREENSHOTS = {
    "book/method": ("method.png", 2400),
    "notebooks/04_table1": ("table1.png", 1600),
    "notebooks/02_pneumoniamnist": ("medmnist_chapter.png", 1600),
    "notebooks/05_gallery": ("gallery.png", 1800),
}
# pages that must contain typeset maths (guards the MathJax check against passing vacuously)
MATH_PAGES = {"book/method"}
# window widths (CSS pixels) at which no page may overflow its column, and the height used
OVERFLOW_WIDTHS = (1300, 1024, 420)
OVERFLOW_HEIGHT = 900
# in a window narrower than this (a phone), a table or equation wider than the column may
# scroll inside its own box (reported, not failed); the page itself still must not
SCROLL_BOXES_BELOW = 700

# Measures the main column (<article>'s content box) once MathJax has typeset: how far the
# document scrolls sideways, elements reaching past the column outside any scroll box,
# block elements whose content is cut off by their own horizontal scroll box, and the
# widest table. Visually hidden elements (clipped, zero-sized, invisible) are skipped.
MEASURE_OVERFLOW = r"""(async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
  const article = document.querySelector("article.bd-article") || document.querySelector("main");
  const style = getComputedStyle(article);
  const box = article.getBoundingClientRect();
  const right = box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
  const left = box.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth);
  const scrolls = el => ["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(el).overflowX);
  const hidden = el => { const s = getComputedStyle(el);
    return s.visibility === "hidden" || s.clip !== "auto" || s.clipPath !== "none"; };
  const name = el => el.tagName.toLowerCase() + [...el.classList].slice(0, 2).map(c => "." + c).join("")
    + ` "${(el.innerText || "").trim().replace(/\s+/g, " ").slice(0, 50)}"`;
  const spill = [], cut = [];
  for (const el of article.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height || hidden(el)) continue;
    if (!getComputedStyle(el).display.startsWith("inline") && scrolls(el)
        && el.scrollWidth > el.clientWidth + 1)
      cut.push({element: name(el), px: el.scrollWidth - el.clientWidth});
    if (r.right > right + 1 && !spill.some(s => s.node.contains(el))) {
      let up = el.parentElement;
      while (up && up !== article && !scrolls(up)) up = up.parentElement;
      if (!up || up === article) spill.push({node: el, element: name(el), px: Math.round(r.right - right)});
    }
  }
  const tables = [...article.querySelectorAll("table")].map(t => t.getBoundingClientRect().width);
  return {column: Math.round(right - left),
          page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          spill: spill.map(({element, px}) => ({element, px})), cut,
          widest_table: Math.round(Math.max(0, ...tables))};
})()"""


EXPLORER = "book/explorer"
EXPLORER_WAIT_MS = 30_000  # for ONNX Runtime to load and the first image to be drawn
# Waits up to waitMs until the explorer has drawn more than `after` times (or failed); returns its state,
# its redraw count and the output canvas's RGBA pixels.
EXPLORER_STATE = r"""(async (after, waitMs) => {
  const root = document.getElementById("cae-explorer");
  for (let waited = 0; waited < waitMs; waited += 100) {
    const canvas = root && root.querySelector("canvas.cae-explorer-output");
    if (!root || root.dataset.state === "error") break;
    if (canvas && +canvas.dataset.renders > after)
      return {state: root.dataset.state, renders: +canvas.dataset.renders,
              pixels: Array.from(canvas.getContext("2d").getImageData(0, 0, 28, 28).data)};
    await new Promise(done => setTimeout(done, 100));
  }
  return {state: !root ? "missing" : root.dataset.state === "error" ? "error" : "timed out",
          renders: 0, pixels: [], text: root ? root.innerText.slice(0, 300) : ""};
})"""
# Scrolls the n-th element matching a selector into view; returns a point 90% along it.
POINT_ON = r"""((selector, n) => {
  const el = document.querySelectorAll(selector)[n];
  el.scrollIntoView({block: "center"});
  const r = el.getBoundingClientRect();
  return [r.left + 0.9 * r.width, r.top + r.height / 2];
})"""


_SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _plain(title: str) -> str:
    """A heading as comparable text: no emphasis, code or link markup, straight quotes."""
    title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)
    return " ".join(re.sub(r"[*_`]", "", title).translate(_SMART_QUOTES).split())


@dataclass
class Page:
    """One toc entry: its source, the built HTML file, the title its source declares."""

    docname: str
    source: Path
    html: Path
    title: str


@dataclass
class Dom:
    """What Chromium rendered: the raw DOM and the parts of it the checks read."""

    html: str
    title: str = ""
    h1: list[str] = field(default_factory=list)
    text: str = ""  # visible text: everything outside <script>, <style> and <mjx-container>
    images: list[str] = field(default_factory=list)
    remote: list[str] = field(default_factory=list)  # http(s) scripts, stylesheets, images
    tables: int = 0
    links: list[str] = field(default_factory=list)


class _DomParser(HTMLParser):
    SKIP = {"script", "style", "mjx-container", "template"}

    def __init__(self, dom: Dom):
        super().__init__(convert_charrefs=True)
        self.dom = dom
        self.skip_depth = 0
        self.in_title = False
        self.h1_depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.SKIP:
            self.skip_depth += 1
        if tag == "title":
            self.in_title = True
        if tag == "h1":
            self.h1_depth += 1
            self.dom.h1.append("")
        if tag == "table":
            self.dom.tables += 1
        if tag == "img" and attrs.get("src"):
            self.dom.images.append(attrs["src"])
        if tag == "a" and attrs.get("href"):
            self.dom.links.append(attrs["href"])
        url = (attrs.get("src") if tag in ("script", "img", "iframe") else
               attrs.get("href") if tag == "link" and "stylesheet" in (attrs.get("rel") or "")
               else None)
        if url and urlsplit(url).scheme in ("http", "https"):
            self.dom.remote.append(f"<{tag}> {url}")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skip_depth:
            self.skip_depth -= 1
        if tag == "title":
            self.in_title = False
        if tag == "h1" and self.h1_depth:
            self.h1_depth -= 1

    def handle_data(self, data):
        if self.in_title:
            self.dom.title += data
        if self.h1_depth:
            self.dom.h1[-1] += data
        if not self.skip_depth:
            self.text.append(data)


def parse_dom(html: str) -> Dom:
    dom = Dom(html=html)
    parser = _DomParser(dom)
    parser.feed(html)
    dom.text = " ".join(parser.text)
    dom.title = " ".join(dom.title.split())
    dom.h1 = [_plain(h) for h in dom.h1]
    return dom


# ---------------------------------------------------------------- pages from the toc

def toc_docnames(toc: dict) -> list[str]:
    """Every file of a jb-book toc, in reading order (root, then parts/chapters/sections)."""
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    return [re.sub(r"\.(md|ipynb)$", "", n) for n in names]


def source_markdown(source: Path) -> str:
    """A MyST page's text, or a notebook's markdown cells joined by blank lines."""
    if source.suffix == ".ipynb":
        cells = json.loads(source.read_text(encoding="utf8"))["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return source.read_text(encoding="utf8")


def source_title(source: Path) -> str:
    """The first level-1 heading of a MyST page or of a notebook's markdown cells."""
    for line in source_markdown(source).splitlines():
        if line.startswith("# "):
            return _plain(line[2:])
    return ""


def toc_successors(toc: dict) -> dict[str, str | None]:
    """Each toc page's next page in reading order (None for the last)."""
    names = toc_docnames(toc)
    return dict(zip(names, [*names[1:], None]))


def toc_pages(toc_path: Path, html_dir: Path) -> tuple[list[Page], list[str]]:
    """The toc's pages with their sources and built files, and any that cannot be found."""
    pages, problems = [], []
    for name in toc_docnames(yaml.safe_load(toc_path.read_text(encoding="utf8"))):
        sources = [toc_path.parent / f"{name}{s}" for s in (".md", ".ipynb")]
        source = next((s for s in sources if s.is_file()), None)
        if source is None:
            problems.append(f"{name}: in the toc but no {name}.md or {name}.ipynb")
            continue
        title = source_title(source)
        if not title:
            problems.append(f"{name}: {source.name} has no level-1 '# ' heading to title the page")
        pages.append(Page(name, source, html_dir / f"{name}.html", title))
    return pages, problems


# ---------------------------------------------------------------- chromium

def find_chromium() -> str:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    sys.exit("check_book.py: Chromium not found; install it (Debian: apt-get install -y chromium) "
             "or set CHROMIUM to its path")


def run_chromium(chromium: str, url: str, extra: list[str]) -> subprocess.CompletedProcess:
    """One headless Chromium run with a fresh profile directory."""
    with tempfile.TemporaryDirectory(prefix="check-book-chromium-") as profile:
        return subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
            capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S)


def dump_dom(chromium: str, page: Page) -> Dom:
    result = run_chromium(chromium, page.html.as_uri(), ["--dump-dom"])
    if result.returncode != 0 or not result.stdout.strip():
        tail = "\n".join(result.stderr.splitlines()[-5:])
        raise RuntimeError(f"Chromium exited {result.returncode} with no DOM: {tail}")
    return parse_dom(result.stdout)


def screenshot(chromium: str, page: Page, out: Path, height: int) -> str | None:
    """Write a 1280-pixel-wide screenshot; return a failure message or None."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    run_chromium(chromium, page.html.as_uri(),
                 [f"--screenshot={out}", f"--window-size=1280,{height}"])
    if not out.is_file() or out.stat().st_size == 0:
        return f"{page.docname}: no screenshot written to {out}"
    return None


# ---------------------------------------------------------------- checks

Check = Callable[[Page, Dom], list[str]]


def check_title(page: Page, dom: Dom) -> list[str]:
    if page.title and not any(page.title in h for h in dom.h1):
        return [f"title {page.title!r} not in the page's <h1> headings {dom.h1}"]
    return []


def check_offline(page: Page, dom: Dom) -> list[str]:
    return [f"loads a remote resource: {r}" for r in dom.remote]


def check_images(page: Page, dom: Dom) -> list[str]:
    failures = []
    for src in dom.images:
        parts = urlsplit(src)
        if parts.scheme == "data":
            continue
        if parts.scheme in ("http", "https"):
            continue  # reported by check_offline
        target = Path(unquote(parts.path)) if parts.scheme == "file" else \
            page.html.parent / unquote(parts.path)
        if not target.is_file():
            failures.append(f"<img src={src!r}> points to a missing file {target}")
    return failures


RAW_TEX = [r"\[", r"\(", "$$", r"\begin{", r"\frac"]


def check_math(page: Page, dom: Dom) -> list[str]:
    """Pages with Sphinx math nodes must be typeset by MathJax, with no TeX left as text."""
    has_math_nodes = 'class="math' in dom.html
    if not has_math_nodes and page.docname not in MATH_PAGES:
        return []
    failures = []
    if page.docname in MATH_PAGES and not has_math_nodes:
        failures.append("expected typeset maths but the page has no math nodes")
    if "<mjx-container" not in dom.html:
        failures.append("maths not rendered: no <mjx-container> in the DOM (MathJax did not run; "
                        "check mathjax_path and book/_static/mathjax/)")
    left = sorted({tex for tex in RAW_TEX if tex in dom.text})
    if left:
        failures.append(f"raw TeX left in the rendered text: {' '.join(left)}")
    if "<mjx-merror" in dom.html:
        failures.append("MathJax reported an error in an equation (<mjx-merror>)")
    return failures


def check_binder(binder_url: str) -> Check:
    def check(page: Page, dom: Dom) -> list[str]:
        if page.source.suffix != ".ipynb" or not binder_url:
            return []
        if not any(link.startswith(binder_url) for link in dom.links):
            return [f"no Binder launch link to {binder_url}"]
        return []
    return check


# ---------------------------------------------------------------- "Next" links

NEXT = "Next:"
_MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_MD_DOC = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`<>]+)>?`")


class _NextParagraphs(HTMLParser):
    """The hrefs of every <p> whose text opens with "Next:", in page order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[list[str]] = []
        self._text: list[str] | None = None
        self._hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "p":
            self._text, self._hrefs = [], []
        elif tag == "a" and self._text is not None and dict(attrs).get("href"):
            self._hrefs.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag == "p" and self._text is not None:
            if "".join(self._text).lstrip().startswith(NEXT):
                self.found.append(self._hrefs)
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def _linked_page(docname: str, target: str, suffixes: tuple[str, ...]) -> str | None:
    """The toc docname a relative link from page `docname` leads to (None for another site)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    if not parts.path:
        return docname  # an anchor on the same page
    path = unquote(parts.path)
    path = path.lstrip("/") if path.startswith("/") else posixpath.normpath(
        posixpath.join(posixpath.dirname(docname), path))
    for suffix in suffixes:
        path = path.removesuffix(suffix)
    return path


def next_pages_html(html: str, docname: str) -> list[str] | None:
    """The pages the last "Next:" paragraph of a built page links, in order (None: no such
    paragraph)."""
    parser = _NextParagraphs()
    parser.feed(html)
    if not parser.found:
        return None
    pages = (_linked_page(docname, href, (".html",)) for href in parser.found[-1])
    return [page for page in pages if page]


def next_pages_markdown(text: str, docname: str) -> list[str] | None:
    """The pages the last "**Next:**" paragraph of a MyST page links, in order, from
    `[text](target)` links and {doc} roles (None: no such paragraph)."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.lstrip().startswith(f"**{NEXT}**")]
    if not paragraphs:
        return None
    found = []
    for match in sorted([*_MD_LINK.finditer(paragraphs[-1]), *_MD_DOC.finditer(paragraphs[-1])],
                        key=lambda m: m.start()):
        page = _linked_page(docname, match.group(1), (".md", ".ipynb"))
        if page:
            found.append(page)
    return found


def next_link_problems(pages: list[str] | None, successor: str | None) -> list[str]:
    """What is wrong with a page's closing "Next:" paragraph, given the pages it links
    (`next_pages_html` or `next_pages_markdown`) and the page that follows it in the toc.

    Every page but the last closes with one, whose first link is its successor; links
    after the first may point anywhere (further reading). The last page has none.
    """
    if successor is None:
        return [f"a '{NEXT}' paragraph on the toc's last page, which has no next page"] \
            if pages is not None else []
    if pages is None:
        return [f"no closing '**{NEXT}**' paragraph; it should lead to {successor}, the next "
                f"page in _toc.yml"]
    if not pages:
        return [f"the '{NEXT}' paragraph links no page; it should lead to {successor}"]
    if pages[0] != successor:
        return [f"'{NEXT}' leads to {pages[0]}, but the next page in _toc.yml is {successor}"]
    return []


def check_next(successors: dict[str, str | None]) -> Check:
    def check(page: Page, dom: Dom) -> list[str]:
        return next_link_problems(next_pages_html(dom.html, page.docname),
                                  successors.get(page.docname))
    return check

# A decimal number, whole: 0.5, .5, the 2.5 of 2.5e-6, a version such as 2.14.1.
DECIMAL = re.compile(r"(?<![\d.])\d*\.\d+(?:\.\d+)*")
# What is not prose: code, maths, notebook outputs, images, numbering and the bibliography
# (its DOIs and arXiv identifiers), and what code wrote at build time (class cae-generated:
# the fragments of book/generated/ and the numbers of book/generated/numbers.json).
NOT_PROSE_TAGS = {"pre", "code", "kbd", "samp", "script", "style", "template", "math", "svg",
                  "mjx-container"}
NOT_PROSE_CLASSES = {"cae-generated", "math", "cell_output", "section-number", "caption-number",
                     "headerlink", "citation"}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
             "param", "source", "track", "wbr"}
# Typed decimals the prose may keep: exact phrases (whitespace collapsed), each with its reason.
TYPED_NUMBERS_ALLOWED = {
    "plus 0.1 × the": "the paper's α = 0.1, the weight of the reconstruction term: a constant "
                      "of the method as the paper states it",
    "yellowbrick 1.5": "a package version, named for the incompatibility it has",
    "scikit-learn 1.6": "a package version, named for the incompatibility it has",
}


class _ProseParser(HTMLParser):
    """Collects the text of the page's <article> (of the whole input if it has none) that
    lies outside every NOT_PROSE_TAGS element and every element of a NOT_PROSE_CLASSES class."""

    def __init__(self, scoped: bool):
        super().__init__(convert_charrefs=True)
        self.scoped = scoped
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, not prose, is the article)
        self.not_prose = 0
        self.in_article = 0
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.chunks.append(" ")  # no word or number runs on across a tag
        if tag in VOID_TAGS:
            return
        classes = set((dict(attrs).get("class") or "").split())
        entry = (tag, tag in NOT_PROSE_TAGS or bool(classes & NOT_PROSE_CLASSES), tag == "article")
        self.stack.append(entry)
        self.not_prose += entry[1]
        self.in_article += entry[2]

    def handle_endtag(self, tag):
        self.chunks.append(" ")
        if tag not in (t for t, _, _ in self.stack):
            return
        while self.stack:
            name, not_prose, article = self.stack.pop()
            self.not_prose -= not_prose
            self.in_article -= article
            if name == tag:
                break

    def handle_data(self, data):
        if not self.not_prose and (self.in_article or not self.scoped):
            self.chunks.append(data)


def prose_text(html: str) -> str:
    """The prose of a built page, whitespace collapsed (see _ProseParser)."""
    parser = _ProseParser(scoped="<article" in html)
    parser.feed(html)
    parser.close()
    return " ".join("".join(parser.chunks).split())


def typed_numbers(html: str, allowed: dict[str, str] = TYPED_NUMBERS_ALLOWED) -> list[str]:
    """Every decimal number typed into a page's prose (not produced by code at build time),
    each with the words around it; the allowed phrases are skipped."""
    text = prose_text(html)
    for phrase in allowed:
        text = text.replace(" ".join(phrase.split()), " ")
    return [f"{m.group(0)!r} in \"...{text[max(0, m.start() - 40):m.end() + 40]}...\""
            for m in DECIMAL.finditer(text)]


def check_typed_numbers(page: Page, dom: Dom) -> list[str]:
    """No decimal number in the prose unless code produced it (book/generated/, a notebook
    output) or TYPED_NUMBERS_ALLOWED names it."""
    return [f"typed number {found}; generate it (cae.report.fragments) or allow-list it in "
            f"TYPED_NUMBERS_ALLOWED with its reason" for found in typed_numbers(dom.html)]


GRID_ID = "T_table1-grid"  # cae.report.glance.styled_grid's default uuid, as pandas writes it
GRID_CELL = re.compile(rf'<td id="{GRID_ID}_row\d+_col\d+" class="data row\d+ col\d+ '
                       r'(met|missed|untrained|not-run)"')


def check_table1(page: Page, dom: Dom) -> list[str]:
    """The Table 1 page opens with the at-a-glance grid (its first table: 45 cells, each
    met, missed, untrained or not run) followed by the forest plot, and shows the long tables below."""
    if dom.tables == 0:
        return ["no <table> in the page: the Table 1 notebook must display its results table"]
    failures = []
    first_table = re.search(r"<table[^>]*>", dom.html).group(0)
    if f'id="{GRID_ID}"' not in first_table:
        failures.append(f"the first table is not the at-a-glance grid (id {GRID_ID}): {first_table}")
    cells = GRID_CELL.findall(dom.html)
    if len(cells) != 45:
        failures.append(f"the at-a-glance grid has {len(cells)} coloured cells, not the paper's 45")
    elif "not-run" in cells:
        failures.append(f"{cells.count('not-run')} cell(s) of the grid have no run")
    grid_end = dom.html.find("</table>", dom.html.find(f'id="{GRID_ID}"'))
    if "<img" not in dom.html[grid_end:dom.html.find("<table", grid_end)]:
        failures.append("no figure (the forest plot) between the grid and the next table")
    return failures


def check_gallery(page: Page, dom: Dom) -> list[str]:
    """The gallery shows a table with a decoded-prototypes thumbnail (an embedded PNG) for
    each dataset and profile with committed runs in artifacts/."""
    configs = [json.loads(p.read_text(encoding="utf8")) for p in (ROOT / "artifacts").glob("*/config.json")
               if (p.parent / "provenance.json").is_file()]
    rows = {(c["dataset"], c["profile"]) for c in configs}
    thumbnails = [src for src in dom.images if src.startswith("data:image/png")]
    if dom.tables == 0 or len(thumbnails) < len(rows):
        return [f"{len(thumbnails)} prototype thumbnail(s) for {len(rows)} dataset/profile rows "
                f"with committed runs (in a table: {dom.tables > 0}); execute and publish the gallery"]
    return []


# page-specific checks, by toc docname
PAGE_CHECKS: dict[str, list[Check]] = {
    "notebooks/04_table1": [check_table1],
    "notebooks/05_gallery": [check_gallery],
}


def binder_base(config_path: Path) -> str:
    """The Binder URL prefix of this repository's launch links, from _config.yml."""
    config = yaml.safe_load(config_path.read_text(encoding="utf8")) or {}
    hub = (config.get("launch_buttons") or {}).get("binderhub_url", "").rstrip("/")
    repo = (config.get("repository") or {}).get("url", "")
    if not hub or not repo:
        return ""
    return f"{hub}/v2/gh/{repo.removeprefix('https://github.com/').rstrip('/')}"


def check_page(chromium: str, page: Page, checks: list[Check]) -> list[str]:
    if not page.html.is_file():
        return [f"not built: {page.html} is missing"]
    try:
        dom = dump_dom(chromium, page)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return [f"did not load: {exc}"]
    return [msg for check in checks + PAGE_CHECKS.get(page.docname, [])
            for msg in check(page, dom)]


def measure_overflow(browser: Browser, page: Page, width: int) -> dict:
    """MEASURE_OVERFLOW's result for page in a width-pixel window."""
    browser.open(page.html.as_uri(), width, OVERFLOW_HEIGHT)
    return browser.evaluate(MEASURE_OVERFLOW)


def overflow_failures(measure: dict, width: int) -> list[str]:
    """What a measurement in a width-pixel window says reaches past the column's edge, or
    is cut off at it (allowed below SCROLL_BOXES_BELOW, where wide tables scroll in place)."""
    failures = [f"the page scrolls sideways by {measure['page']} px"] if measure["page"] > 0 else []
    failures += [f"{s['element']} reaches {s['px']} px past the column" for s in measure["spill"]]
    if width >= SCROLL_BOXES_BELOW:
        failures += [f"{c['element']} is cut off: {c['px']} px hidden behind a scrollbar"
                     for c in measure["cut"]]
    return failures


def check_overflow(chromium: str, pages: list[Page]) -> list[str]:
    """Every built page at every OVERFLOW_WIDTHS width: nothing wider than its column."""
    failures = []
    flags = [f for f in CHROMIUM_FLAGS if not f.startswith("--virtual-time-budget")]
    built = [p for p in pages if p.html.is_file()]
    try:
        with Browser(chromium, flags, timeout_s=CHROMIUM_TIMEOUT_S) as browser:
            for width in OVERFLOW_WIDTHS:
                for page in built:
                    measure = measure_overflow(browser, page, width)
                    problems = overflow_failures(measure, width)
                    scrolled = "" if width >= SCROLL_BOXES_BELOW or not measure["cut"] else \
                        f", {len(measure['cut'])} box(es) scrolling in place"
                    print(f"{'ok  ' if not problems else 'FAIL'} {width} px {page.docname}: column "
                          f"{measure['column']} px, widest table {measure['widest_table']} px"
                          f"{scrolled}", flush=True)
                    failures += [f"{page.docname} at {width} px: {p}" for p in problems]
    except DevToolsError as exc:
        failures.append(f"overflow check: {exc}")
    return failures


class _QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".mjs": "text/javascript"}

    def do_GET(self) -> None:
        if self.path == "/favicon.ico":  # the book declares no icon; browsers ask anyway
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve directory over HTTP on a free local port; yield its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_QuietHandler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


def explorer_state(browser: Browser, after: int) -> dict:
    return browser.evaluate(f"{EXPLORER_STATE}({after}, {EXPLORER_WAIT_MS})")


def move_and_redraw(browser: Browser, selector: str, n: int, before: dict) -> tuple[dict, list[str]]:
    """Click 90% along the n-th control matching selector; the explorer must redraw and its
    image change. Returns the new state and any failure."""
    browser.click(*browser.evaluate(f"{POINT_ON}({json.dumps(selector)}, {n})"))
    after = explorer_state(browser, before["renders"])
    if after["state"] != "ready":
        return after, [f"no redraw after clicking {selector} #{n} ({after['state']})"]
    changed = sum(a != b for a, b in zip(before["pixels"], after["pixels"]))
    print(f"     clicked {selector} #{n}: {changed} of {len(after['pixels'])} RGBA values changed")
    return after, ([] if changed else [f"clicking {selector} #{n} redrew the same image"])


def check_explorer(chromium: str, page: Page, first: Page, html_dir: Path, shot: Path) -> list[str]:
    """Over HTTP: the explorer starts, its image changes when a weight and the temperature
    are moved, it fits its column at every OVERFLOW_WIDTHS width, and the console shows no
    error that the book's first page does not show too."""
    failures = []
    flags = [f for f in CHROMIUM_FLAGS if not f.startswith("--virtual-time-budget")]
    try:
        with serve(html_dir) as base, Browser(chromium, flags, timeout_s=CHROMIUM_TIMEOUT_S) as browser:
            browser.open(base + first.html.relative_to(html_dir).as_posix(), 1300, OVERFLOW_HEIGHT)
            baseline = browser.errors()
            for error in baseline:
                print(f"     on {first.docname} too, not counted: {error}")
            for width in OVERFLOW_WIDTHS:
                browser.open(base + page.html.relative_to(html_dir).as_posix(), width, OVERFLOW_HEIGHT)
                state = explorer_state(browser, 0)
                if state["state"] != "ready":
                    failures.append(f"at {width} px the explorer did not start ({state['state']}): "
                                    f"{state.get('text', '')}")
                    break
                failures += [f"at {width} px: {p}" for p in
                             overflow_failures(browser.evaluate(MEASURE_OVERFLOW), width)]
            else:
                state, problems = move_and_redraw(browser, "input.cae-explorer-weight", 1, state)
                failures += problems
                if not problems:
                    state, problems = move_and_redraw(browser, "input.cae-explorer-temperature", 0, state)
                    failures += problems
                browser.evaluate('document.getElementById("cae-explorer").scrollIntoView()')
                browser.screenshot(shot)
                print(f"screenshot {shot}")
            failures += [f"console: {e}" for e in browser.errors() if e not in baseline]
    except DevToolsError as exc:
        failures.append(f"explorer check: {exc}")
    return failures


def report(failures: list[str], passed: str) -> int:
    """Print the failures and return 1, or print `passed` and return 0."""
    if failures:
        print(f"\n{len(failures)} failure(s):", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    print(f"\n{passed}")
    return 0


def numbers_only(pages: list[Page], failures: list[str]) -> int:
    """check_typed_numbers on every built page as written by Sphinx (no browser)."""
    for page in pages:
        if not page.html.is_file():
            failures.append(f"{page.docname}: not built: {page.html} is missing")
            continue
        found = check_typed_numbers(page, Dom(html=page.html.read_text(encoding="utf8")))
        print(f"{'ok  ' if not found else 'FAIL'} {page.docname}: typed numbers", flush=True)
        failures += [f"{page.docname}: {msg}" for msg in found]
    return report(failures, f"no typed number in the prose of {len(pages)} pages")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html",
                        help="the built HTML folder (default: _build/html)")
    parser.add_argument("--toc", type=Path, default=ROOT / "_toc.yml")
    parser.add_argument("--config", type=Path, default=ROOT / "_config.yml")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "_build" / "screenshots")
    parser.add_argument("--numbers-only", action="store_true",
                        help="only check the built files' prose for typed numbers (no Chromium)")
    args = parser.parse_args()

    if not (args.html / "index.html").is_file():
        sys.exit(f"check_book.py: {args.html / 'index.html'} not found; build the book first "
                 "(scripts/build_book.sh)")
    pages, failures = toc_pages(args.toc, args.html)
    if args.numbers_only:
        return numbers_only(pages, failures)
    chromium = find_chromium()
    checks = [check_title, check_offline, check_images, check_math, check_typed_numbers,
              check_binder(binder_base(args.config)),
              check_next(toc_successors(yaml.safe_load(args.toc.read_text(encoding="utf8"))))]

    for page in pages:
        page_failures = check_page(chromium, page, checks)
        print(f"{'ok  ' if not page_failures else 'FAIL'} {page.docname}", flush=True)
        failures += [f"{page.docname}: {msg}" for msg in page_failures]
    failures += check_overflow(chromium, pages)

    by_name = {p.docname: p for p in pages}
    if EXPLORER in by_name:
        problems = check_explorer(chromium, by_name[EXPLORER], pages[0], args.html,
                                  args.screenshots / "explorer.png")
        print(f"{'ok  ' if not problems else 'FAIL'} {EXPLORER} over HTTP: starts, redraws, "
              f"fits, no console error", flush=True)
        failures += [f"{EXPLORER}: {p}" for p in problems]

    for docname, (filename, height) in SCREENSHOTS.items():
        if docname not in by_name or not by_name[docname].html.is_file():
            failures.append(f"{docname}: cannot screenshot, page not built")
            continue
        problem = screenshot(chromium, by_name[docname], args.screenshots / filename, height)
        if problem:
            failures.append(problem)
        else:
            print(f"screenshot {args.screenshots / filename}")

    return report(failures, f"all {len(pages)} pages passed")


if __name__ == "__main__":
    sys.exit(main())
