"""Terminal colours in step logs: SGR sequences become spans with classes, every other escape
sequence is dropped. The text is escaped first and only our own spans wrap it, so a log can
never put markup into the page."""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# One token: an SGR sequence (group 1 holds its parameters), or any other escape sequence
# (CSI, OSC ended by BEL or ST, or a two-byte escape), or a stray ESC.
_ESCAPE = re.compile(
    r"\x1b\[([0-9;]*)m"
    r"|\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]?"
)
COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")


def _apply(params: str, fg: str, bold: bool) -> tuple[str, bool]:
    codes = [int(code) if code else 0 for code in params.split(";")]
    i = 0
    while i < len(codes):
        code = codes[i]
        if code == 0:
            fg, bold = "", False
        elif code == 1:
            bold = True
        elif code == 22:
            bold = False
        elif 30 <= code <= 37:
            fg = f"ansi-{COLOURS[code - 30]}"
        elif 90 <= code <= 97:
            fg = f"ansi-bright-{COLOURS[code - 90]}"
        elif code == 39:
            fg = ""
        elif code in (38, 48) and i + 1 < len(codes):
            # 256-colour and true-colour forms: skip their arguments, keep the default colour.
            i += 2 if codes[i + 1] == 5 else 4 if codes[i + 1] == 2 else 0
        i += 1
    return fg, bold


def strip_ansi(text: str) -> str:
    """The log's plain text, every escape sequence removed (for a one-line reason)."""
    return _ESCAPE.sub("", text)


def ansi_to_html(text: str) -> SafeString:
    """The log as HTML for a <pre>: colours (30-37, 90-97), bold and reset as
    `<span class="ansi-red ansi-bold">`, other escape sequences removed."""
    out: list[str] = []
    fg, bold = "", False
    position = 0

    def emit(chunk: str) -> None:
        if not chunk:
            return
        classes = " ".join(c for c in (fg, "ansi-bold" if bold else "") if c)
        body = escape(chunk)
        out.append(f'<span class="{classes}">{body}</span>' if classes else body)

    for match in _ESCAPE.finditer(text):
        emit(text[position : match.start()])
        position = match.end()
        if match.group(1) is not None:
            fg, bold = _apply(match.group(1), fg, bold)
    emit(text[position:])
    return mark_safe("".join(out))  # every piece of the log went through escape()
