"""The readable text of a news article saved as HTML, one paragraph per block, for quote extraction.

Newsrooms keep articles as web pages or CMS exports. Quote extraction needs the article's prose with its paragraph
breaks (a quote's speaker is looked for in its own paragraph) and its quote marks as characters, not `&ldquo;`.
Block elements (<p>, headings, list items, <blockquote>, table cells...) end a paragraph, while a <br> inside one
is a space (`Matviyenko added,<br>"We could not..."` stays one paragraph, speaker and quote); the contents of
scripts, styles and the page's furniture (<nav>, <header>, <footer>, <aside>, forms) are dropped, since their
teasers and menus are not the article. Offsets in stance-predict's output count characters of this text.

Python's own HTML parser reads the page: it accepts the broken markup real pages have and needs no dependency.
"""

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

_SPACES = re.compile(r"\s+")


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

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in SKIPPED:
            self.skipping.append(tag)
        elif not self.skipping and tag in BLOCKS:
            self.end_paragraph()
        elif not self.skipping and tag == "br":
            self.current.append(" ")

    def handle_startendtag(self, tag: str, attrs) -> None:  # <br/>, <hr/>, <svg .../>: no content, no end tag
        if tag not in SKIPPED:
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


def article_text(html: str) -> str:
    """The page's text, paragraphs separated by a blank line; "" for a page without any."""
    parser = _ArticleText()
    parser.feed(html)
    parser.close()
    parser.end_paragraph()
    return "\n\n".join(parser.paragraphs)
