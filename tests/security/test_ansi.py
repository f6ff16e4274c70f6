"""Terminal colours in step logs: spans with classes, everything else escaped or dropped."""

from __future__ import annotations

import pytest

from apps.runs.ansi import ansi_to_html, strip_ansi
from apps.runs.outputs import failure_reason


@pytest.mark.parametrize(
    ("log", "html"),
    [
        ("plain", "plain"),
        ("\x1b[31mred\x1b[0m done", '<span class="ansi-red">red</span> done'),
        ("\x1b[1;92mok\x1b[m", '<span class="ansi-bright-green ansi-bold">ok</span>'),
        ("\x1b[1mB\x1b[22mN", '<span class="ansi-bold">B</span>N'),
        ("\x1b[34mA\x1b[39mB", '<span class="ansi-blue">A</span>B'),
        ("\x1b[97mW\x1b[90mG",
         '<span class="ansi-bright-white">W</span><span class="ansi-bright-black">G</span>'),
        # 256 and true colours: their arguments are not read as codes; the text stays plain.
        ("\x1b[38;5;31mx\x1b[38;2;1;2;3my", "xy"),
        # Cursor moves, erases, window titles, stray ESC: dropped.
        ("a\x1b[2K\x1b[1Gb\x1b]0;title\x07c\x1b]8;;http://x\x1b\\d\x1be", "abcde"),
    ],
)  # fmt: skip
def test_colours_become_classes(log, html):
    assert ansi_to_html(log) == html


def test_markup_in_the_log_is_escaped_before_it_is_wrapped():
    html = ansi_to_html('\x1b[31m<img src=x onerror="alert(1)">\x1b[0m & <script>')
    assert html == (
        '<span class="ansi-red">&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</span>'
        " &amp; &lt;script&gt;"
    )


def test_a_sequence_cannot_smuggle_markup():
    # Parameters are digits only: a broken sequence loses its ESC and the rest is plain text.
    assert ansi_to_html('\x1b[31"><b>m') == "[31&quot;&gt;&lt;b&gt;m"


def test_strip_and_failure_reason():
    log = "\x1b[0;31mValueError\x1b[0m: bad input\n"
    assert strip_ansi(log) == "ValueError: bad input\n"
    assert failure_reason(log) == "ValueError: bad input"
