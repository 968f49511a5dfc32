"""A small Python syntax highlighter for the code view: keywords, strings, comments, numbers.

Good enough to read a DAG file; it works on the stored source text, line by line, and
returns escaped HTML (``Markup``) so the template can show it as is.
"""

from __future__ import annotations

import builtins
import io
import keyword
import tokenize

from markupsafe import Markup, escape

_BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))
_SOFT = frozenset({"match", "case", "type", "_"})


def _classes(
    tokens: list[tokenize.TokenInfo],
) -> dict[tuple[int, int], tuple[tuple[int, int], str]]:
    marks: dict[tuple[int, int], tuple[tuple[int, int], str]] = {}
    previous = ""
    for token in tokens:
        css = ""
        if token.type == tokenize.COMMENT:
            css = "com"
        elif token.type == tokenize.STRING or token.type in _FSTRING_TYPES:
            css = "str"
        elif token.type == tokenize.NUMBER:
            css = "num"
        elif token.type == tokenize.NAME:
            if keyword.iskeyword(token.string) and token.string not in _SOFT:
                css = "kw"
            elif token.string in _BUILTINS:
                css = "bi"
            elif previous == "@":
                css = "dec"
        elif token.type == tokenize.OP and token.string == "@":
            css = "dec"
        if css and token.end > token.start:
            marks[token.start] = (token.end, css)
        previous = token.string if token.type != tokenize.NL else previous
    return marks


_FSTRING_TYPES = frozenset(
    getattr(tokenize, name)
    for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
    if hasattr(tokenize, name)
)


def python_lines(source: str) -> list[Markup]:
    """The source, one highlighted HTML line per source line."""
    lines = source.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return [Markup(escape(line)) for line in lines]
    marks = _classes(tokens)
    starts: dict[int, list[int]] = {}
    for r, c in sorted(marks):
        starts.setdefault(r, []).append(c)
    out: list[Markup] = []
    open_span: tuple[tuple[int, int], str] | None = None
    for row, line in enumerate(lines, start=1):
        html: list[str] = []
        if open_span is not None:  # a multi-line string continues on this line
            html.append(f'<span class="{open_span[1]}">')
        col = 0
        while col < len(line):
            if open_span is not None:
                (end_row, end_col), _ = open_span
                if end_row == row:
                    html.append(str(escape(line[col:end_col])) + "</span>")
                    col = end_col
                    open_span = None
                else:
                    html.append(str(escape(line[col:])))
                    col = len(line)
                continue
            mark = marks.get((row, col))
            if mark is not None:
                html.append(f'<span class="{mark[1]}">')
                open_span = mark
                continue
            nxt = next((c for c in starts.get(row, ()) if c > col), len(line))
            html.append(str(escape(line[col:nxt])))
            col = nxt
        if open_span is not None:
            html.append("</span>")
        out.append(Markup("".join(html)))
    return out
