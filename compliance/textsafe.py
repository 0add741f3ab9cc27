"""Text from data, made safe to show on a terminal.

Names, notes, file names, zip entry names and `COMPLIANCE_ACTOR` come from people and files the
tool does not control. Printed as they are, a newline starts a line that looks like the tool's
own output (`Decision: APPROVE`), a carriage return overwrites one, and an escape sequence can
hide, recolour or retitle what follows. `shown()` writes every such character as a visible
escape (`\\n`, `\\x1b`, `\\u202e`), so what reaches the terminal is exactly one line of inert
text. `json_text()` does the same inside JSON output, where the escapes are JSON's own and the
document means exactly what it meant before.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls (ESC, CSI, OSC...); the bidirectional and invisible
# formatting characters that reorder or hide text (Trojan Source); line and paragraph
# separators some terminals break lines on; lone surrogates (undecodable file names).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Outside strings, JSON text holds no such characters; inside them, json.dumps already escapes
# C0 controls. What is left with ensure_ascii=False (DEL, C1, bidi and separators, lone
# surrogates) is escaped the JSON way, which keeps the value.
_UNSAFE_IN_JSON = re.compile(
    "[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ufeff\ufff9-\ufffb\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(value: object) -> str:
    """`value` as text that prints as one inert line: control and formatting characters escaped."""
    text = value if isinstance(value, str) else str(value)
    if text.isascii() and text.isprintable():  # the common case, without a regex scan
        return text
    return _UNSAFE.sub(_escape, text)


def json_text(text: str) -> str:
    """JSON text (from json.dumps) with the characters a terminal acts on written as escapes."""
    if text.isascii() and "\x7f" not in text:
        return text  # json.dumps escaped every other control character already
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def is_clean(text: str) -> bool:
    """True when `text` holds nothing `shown()` would escape."""
    return _UNSAFE.search(text) is None
