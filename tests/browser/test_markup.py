"""Markup rules the browser tests rely on, read straight from templates/ and static/ (no
browser needed): no inline style= (the CSP may drop them, dark mode can't reach them), one
stylesheet for the portal and admin, loaded in <head>. E-mails are the exception: mail
clients keep only inline styles."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
PAGES = [p for p in TEMPLATES.rglob("*.html") if "email" not in p.relative_to(TEMPLATES).parts]


def test_no_template_has_an_inline_style():
    assert PAGES
    styled = [
        str(p.relative_to(TEMPLATES))
        for p in PAGES
        if re.search(r"\sstyle\s*=", p.read_text(encoding="utf-8"))
    ]
    assert not styled


def test_one_stylesheet_loaded_in_the_head_of_base_html():
    stylesheet = re.compile(r"<link[^>]*rel=\"stylesheet\"[^>]*>")
    with_links = {}
    for page in PAGES:
        found = stylesheet.findall(page.read_text(encoding="utf-8"))
        if found:
            with_links[str(page.relative_to(TEMPLATES))] = found
    # The API docs page is Swagger UI's own document, with its sheet and our corrections.
    assert set(with_links) == {"base.html", "api/docs.html"}, with_links
    [portal] = with_links["base.html"]
    assert "portal.css" in portal
    base = (TEMPLATES / "base.html").read_text(encoding="utf-8")
    assert base.index("portal.css") < base.index("</head>")
    assert not (ROOT / "static" / "admin.css").exists()
    assert "<style" not in "".join(p.read_text(encoding="utf-8") for p in PAGES)
