"""HTML pages of the report: a table per section with what its columns mean, readable alone or inside
Snakemake's report (which shows an HTML result in the page, and whose landing page inlines the overview)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

STYLE = """<style>
.beyond-imagenet { font-family: system-ui, sans-serif; font-size: 14px; max-width: 1200px; }
.beyond-imagenet table { border-collapse: collapse; margin: 6px 0 14px; font-size: 13px; }
.beyond-imagenet th, .beyond-imagenet td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
.beyond-imagenet th { background: #f2f2f2; }
.beyond-imagenet .note { color: #444; font-size: 12px; margin: 2px 0; }
.beyond-imagenet svg { max-width: 100%; height: auto; }
</style>"""


@dataclass(frozen=True)
class Section:
    """One heading with an optional table (or raw HTML) and the notes that say what its columns mean."""

    heading: str
    table: pd.DataFrame | None = None
    notes: Sequence[str] = ()
    raw: str = ""  # trusted HTML of our own (an SVG figure)


def _section(section: Section) -> str:
    parts = [f"<h3>{html.escape(section.heading)}</h3>"]
    parts += [f'<p class="note">{html.escape(note)}</p>' for note in section.notes]
    if section.raw:
        parts.append(section.raw)
    if section.table is not None:
        parts.append(section.table.to_html(index=False, border=0, na_rep="", escape=True) if len(section.table)
                     else '<p class="note">(no rows)</p>')
    return "\n".join(parts)


def page(title: str, sections: Sequence[Section]) -> str:
    """A self-contained fragment (no <html> shell): shown as a page, or inlined into the report's landing page."""
    body = "\n".join(_section(section) for section in sections)
    return f'<div class="beyond-imagenet">\n{STYLE}\n<h2>{html.escape(title)}</h2>\n{body}\n</div>\n'


def write_page(path: Path, title: str, sections: Sequence[Section]) -> None:
    """Write one HTML page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(title, sections))


def inline_svg(svg_text: str) -> str:
    """An SVG file's text without its XML prolog, ready to sit inside HTML."""
    start = svg_text.find("<svg")
    return svg_text[start:] if start >= 0 else ""
