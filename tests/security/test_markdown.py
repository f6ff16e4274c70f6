"""Markdown artifacts: images only from data: URLs, no script in any form."""

from __future__ import annotations

from apps.runs.previews import render_markdown

PNG = "data:image/png;base64,iVBORw0KGgo="


def test_embedded_images_stay():
    html = render_markdown(f'![plot]({PNG})\n\n<img src="{PNG}" alt=raw>')
    assert f'<img src="{PNG}" alt="plot">' in html
    assert f'<img src="{PNG}" alt="raw">' in html


def test_remote_images_become_links_and_load_nothing():
    html = render_markdown(
        "![tracker](https://evil.example/pixel.png)\n\n![rel](/media/x.png)\n\n"
        '<img src="https://evil.example/raw.png" alt="raw"> <img src="//evil.example/p.png">'
    )
    assert "<img" not in html.replace('<img alt="raw">', "").replace("<img>", "")
    assert "src=" not in html
    assert 'href="https://evil.example/pixel.png"' in html and ">tracker</a>" in html
    assert "(remote image not shown)" in html


def test_no_script_survives():
    html = render_markdown(
        "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n"
        '[a](javascript:alert(3)) <a href="javascript:alert(4)">b</a> '
        '<a href="data:text/html,<script>alert(5)</script>">c</a>\n\n'
        '<svg onload=alert(6)></svg> <iframe src="/"></iframe>'
    )
    lowered = html.lower()
    for needle in (
        "<script",
        "onerror",
        "onload",
        'href="javascript',
        "data:text",
        "<svg",
        "<iframe",
    ):
        assert needle not in lowered, needle
    assert "[a](javascript:alert(3))" in html  # markdown-it leaves a script link as text
