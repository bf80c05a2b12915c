"""The readable text of a news article saved as HTML, one paragraph per block, for quote extraction.

Newsrooms keep articles as web pages or CMS exports. Quote extraction needs the article's prose with its paragraph
breaks (a quote's speaker is looked for in its own paragraph) and its quote marks as characters, not `&ldquo;`.
Block elements (<p>, headings, list items, <blockquote>, table cells...) end a paragraph, while a <br> inside one
is a space (`Matviyenko added,<br>"We could not..."` stays one paragraph, speaker and quote); the contents of
scripts, styles and the page's furniture are dropped, since their teasers and menus are not the article: <nav>,
<header>, <footer>, <aside> and forms, and any element whose class or id starts with a furniture word
(`class="sidebar"`, `id="related-links"`) or whose role is one (`role="complementary"`). Offsets in stance-predict's
output count characters of this text.

A page is decoded as it declares (`<meta charset>` or the `http-equiv` Content-Type), as a browser does, so that a
folder of pages saved from several sites, some in windows-1252, is read in one run.

Python's own HTML parser reads the page: it accepts the broken markup real pages have and needs no dependency.
"""

import codecs
import re
from html.parser import HTMLParser

HTML_SUFFIXES = {".html", ".htm"}

# Elements that end a paragraph where they open and close.
BLOCKS = {
    "address", "article", "blockquote", "caption", "dd", "div", "dl", "dt", "figcaption", "figure", "h1",
    "h2", "h3", "h4", "h5", "h6", "hr", "li", "main", "ol", "p", "pre", "section", "table", "td", "th", "title",
    "tr", "ul",
}  # fmt: skip
# Elements whose whole content is not article text.
SKIPPED = {
    "aside", "button", "footer", "form", "header", "iframe", "nav", "noscript", "object", "script", "select",
    "style", "svg", "template", "textarea",
}  # fmt: skip
# Class or id words that open the name of the page's furniture (`sidebar-right`, `related_links`, `share`). Only at
# the start of a name: a wrapper named `has-sidebar` or `no-comments` holds the article itself.
FURNITURE = re.compile(
    r"(?:sidebar|related|share|sharing|social|promo|newsletter|subscribe|advert|ads?|comments?|breadcrumbs?"
    r"|recommended|trending|most-read|popular|outbrain|taboola)(?:$|[_-])",
    re.IGNORECASE,
)
FURNITURE_ROLES = {"banner", "complementary", "contentinfo", "navigation", "search"}
# Never dropped for their class: they hold the article.
CONTAINERS = {"html", "body", "main", "article"}
# Elements that never have content or an end tag: inside a dropped region they must not count as open.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

_SPACES = re.compile(r"\s+")
# Browsers look for the declaration in the page's first 1024 bytes; saved pages put comments first, so look further.
CHARSET_PREFIX_BYTES = 4096
_DECLARED_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([-\w.:]+)", re.IGNORECASE)
# The HTML standard reads these labels as windows-1252, whose 0x80-0x9F are curly quotes and dashes.
AS_WINDOWS_1252 = {"ascii", "us-ascii", "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1"}


def is_furniture(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """An element whose class, id or ARIA role says it is page furniture, not the article."""
    if tag in CONTAINERS:
        return False
    for name, value in attrs:
        if not value:
            continue
        if name == "role" and value.strip().lower() in FURNITURE_ROLES:
            return True
        if name in ("class", "id") and any(FURNITURE.match(word) for word in value.split()):
            return True
    return False


class _ArticleText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.current: list[str] = []
        self.skipping: list[str] = []  # the open skipped elements, innermost last

    def end_paragraph(self) -> None:
        text = _SPACES.sub(" ", "".join(self.current)).strip()
        if text:
            self.paragraphs.append(text)
        self.current = []

    def dropping(self, tag: str, attrs) -> bool:
        """Whether this element's content is left out: it is furniture, or inside furniture."""
        return bool(self.skipping) or tag in SKIPPED or is_furniture(tag, attrs)

    def handle_starttag(self, tag: str, attrs) -> None:
        if self.dropping(tag, attrs):
            if tag not in VOID:  # every element opened inside a dropped one, so that its own end tag closes it
                self.skipping.append(tag)
        elif tag in BLOCKS:
            self.end_paragraph()
        elif tag == "br":
            self.current.append(" ")

    def handle_startendtag(self, tag: str, attrs) -> None:  # <br/>, <hr/>, <svg .../>: no content, no end tag
        if not self.dropping(tag, attrs):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag in self.skipping:  # close it and whatever was left open inside it
                del self.skipping[len(self.skipping) - 1 - self.skipping[::-1].index(tag) :]
        elif tag in BLOCKS:
            self.end_paragraph()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.current.append(data)


def declared_charset(start: bytes) -> str | None:
    """The encoding a page declares in its first bytes, as Python names it; None when it declares none (or one
    Python does not know, or a byte-order mark says otherwise)."""
    if start.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    found = _DECLARED_CHARSET.search(start[:CHARSET_PREFIX_BYTES])
    if not found:
        return None
    label = found.group(1).decode("ascii", "replace").lower()
    try:
        return codecs.lookup("cp1252" if label in AS_WINDOWS_1252 else label).name
    except LookupError:
        return None


def article_text(html: str) -> str:
    """The page's text, paragraphs separated by a blank line; "" for a page without any."""
    parser = _ArticleText()
    parser.feed(html)
    parser.close()
    parser.end_paragraph()
    return "\n\n".join(parser.paragraphs)
