"""English prose that ships with every Python: the ``pydoc_data`` help topics.

``help("assert")`` prints these pages; the text lives in ``pydoc_data.topics`` (about 0.5 MB
on Python 3.11), so it needs no download. The exact text differs between Python versions.
"""

from __future__ import annotations

import re

# A line made only of rule characters: a heading underline ("*****", "=====") or a table
# border ("+-----+-----+", "|=====|=====|"). Decoration, not prose.
_RULE_LINE = re.compile(r"[ \t]*[-=*+|~^]{3,}[-=*+|~^ \t]*")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def python_docs() -> str:
    """The Python help topics as one cleaned text, the same on every call.

    Cleaning: topics in sorted name order, exact duplicate topics dropped, Windows line endings
    made ``\\n``, trailing spaces stripped, heading underlines and table borders removed, runs of
    blank lines cut to one. Indentation (code examples) is kept. Paragraphs still repeat across
    topics (about a fifth of the long ones on Python 3.11): ``dedupe(text.split("\\n\\n"))``
    removes them, and lab 01 shows how.

    Returns:
        The text, ending in a newline.
    """
    from pydoc_data.topics import topics

    seen, parts = set(), []
    for name in sorted(topics):
        page = topics[name]
        if page in seen:
            continue
        seen.add(page)
        lines = page.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        kept = [line.rstrip() for line in lines if not _RULE_LINE.fullmatch(line)]
        parts.append("\n".join(kept).strip("\n"))
    text = "\n\n".join(part for part in parts if part)
    return _MANY_BLANK_LINES.sub("\n\n", text) + "\n"
