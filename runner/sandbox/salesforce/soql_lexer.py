"""Splits SOQL text into tokens.

Identifiers keep their dots (``Account.Name`` is one token) because SOQL has no other use
for a dot outside numbers. Date and datetime literals are unquoted in SOQL, so they are
recognised here before numbers would swallow their year.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runner.sandbox.salesforce.soql_ast import SoqlError

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<datetime>\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}(?:\.\d{{1,9}})?
        (?:Z|[+-]\d{{2}}:?\d{{2}}))
  | (?P<baddatetime>\d{{4}}-\d{{2}}-\d{{2}}T[0-9:.]*)
  | (?P<date>\d{{4}}-\d{{2}}-\d{{2}})
  | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))
  | (?P<ident>{_IDENT}(?:\.{_IDENT})*)
  | (?P<string>')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<comma>,)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<colon>:)
    """,
    re.VERBOSE,
)

# Escapes SOQL accepts in string literals; \% and \_ are kept escaped for LIKE to read.
_ESCAPES = {
    "n": "\n", "N": "\n", "r": "\r", "R": "\r", "t": "\t", "T": "\t",
    "b": "\b", "B": "\b", "f": "\f", "F": "\f",
    '"': '"', "'": "'", "\\": "\\",
}  # fmt: skip


@dataclass(frozen=True)
class Token:
    kind: str  # ident string number date datetime op comma lparen rparen colon eof
    text: str  # source text (for strings: the decoded value)
    pos: int
    raw: str = ""  # strings only: the text between the quotes, escapes untouched

    def is_kw(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.upper() in words


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SoqlError(
                "MALFORMED_QUERY", f"unexpected token: '{text[pos]}'", text=text, pos=pos
            )
        kind = m.lastgroup or ""
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "baddatetime":
            raise SoqlError(
                "MALFORMED_QUERY",
                f"unexpected token: '{m.group()}' (a datetime literal needs seconds and a "
                "zone, e.g. 2026-01-01T00:00:00Z)",
                text=text,
                pos=pos,
            )
        if kind == "string":
            value, raw, end = _read_string(text, pos)
            tokens.append(Token("string", value, pos, raw))
            pos = end
            continue
        tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


def _read_string(text: str, start: int) -> tuple[str, str, int]:
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "'":
            return "".join(out), text[start + 1 : i], i + 1
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in ("%", "_"):
                out.append("\\" + nxt)
            else:
                raise SoqlError(
                    "MALFORMED_QUERY",
                    f"Invalid string literal '{text[start : i + 2]}'. Illegal character "
                    "sequence '\\" + nxt + "' in string literal.",
                    text=text,
                    pos=start,
                )
            i += 2
            continue
        out.append(ch)
        i += 1
    raise SoqlError(
        "MALFORMED_QUERY", "unexpected token: unterminated string literal", text=text, pos=start
    )
