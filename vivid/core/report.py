"""A small self-contained HTML report: sections of text, pictures and tables.

Used by ``vivid demo``; each task adds its own section. Images are written next to the HTML
file (``<out>/img/``) so the report folder can be opened or shared as it is.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vivid.core.fileio import atomic_write, write_image


@dataclass
class _Item:
    kind: str  # "text" | "image" | "table"
    payload: object
    caption: str = ""


@dataclass
class _Section:
    title: str
    items: list[_Item] = field(default_factory=list)


class Report:
    """Collects sections and writes them as one HTML page.

    Example::

        report = Report("vivid demo")
        report.section("Frame interpolation", "Middle frame predicted from its neighbours.")
        report.image(frame_uint8, "prediction")
        report.table([{"method": "blend", "PSNR": 27.1}], "frame-drop protocol")
        report.save("demo_out/report.html")
    """

    def __init__(self, title: str) -> None:
        self.title = title
        self.sections: list[_Section] = []

    def section(self, title: str, text: str = "") -> "Report":
        self.sections.append(_Section(title))
        if text:
            self.text(text)
        return self

    def _current(self) -> _Section:
        if not self.sections:
            self.section(self.title)
        return self.sections[-1]

    def text(self, text: str) -> "Report":
        self._current().items.append(_Item("text", text))
        return self

    def image(self, image: np.ndarray | str | os.PathLike, caption: str = "") -> "Report":
        """Add a picture: a uint8 (H, W, 3) array or the path of an existing image file."""
        self._current().items.append(_Item("image", image, caption))
        return self

    def table(self, rows: list[dict], caption: str = "") -> "Report":
        """Add a table; columns are the union of the row keys in first-seen order."""
        self._current().items.append(_Item("table", list(rows), caption))
        return self

    def save(self, path: str | os.PathLike) -> Path:
        """Write the HTML (atomically) and its pictures; return the HTML path."""
        path = Path(path)
        img_dir = path.parent / "img"
        img_dir.mkdir(parents=True, exist_ok=True)
        body = [f"<h1>{html.escape(self.title)}</h1>"]
        n_img = 0
        for s_idx, section in enumerate(self.sections):
            body.append(f"<h2>{html.escape(section.title)}</h2>")
            for item in section.items:
                if item.kind == "text":
                    body.append(f"<p>{html.escape(str(item.payload))}</p>")
                elif item.kind == "image":
                    n_img += 1
                    if isinstance(item.payload, np.ndarray):
                        rel = f"img/s{s_idx:02d}_{n_img:03d}.png"
                        write_image(path.parent / rel, item.payload)
                    else:
                        rel = os.path.relpath(Path(item.payload), path.parent)
                    cap = html.escape(item.caption)
                    body.append(f'<figure><img src="{rel}" alt="{cap}"><figcaption>{cap}</figcaption></figure>')
                else:
                    body.append(_table_html(item.payload, item.caption))
        page = _PAGE.format(title=html.escape(self.title), body="\n".join(body))
        with atomic_write(path) as tmp:
            tmp.write_text(page)
        return path


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


def _table_html(rows: list[dict], caption: str) -> str:
    cols: list[str] = []
    for row in rows:
        cols += [c for c in row if c not in cols]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    lines = ["<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>" for r in rows]
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<tr>{head}</tr>{''.join(lines)}</table>"


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
figure {{ display: inline-block; margin: 0.5em; vertical-align: top; }}
img {{ max-width: 520px; image-rendering: pixelated; border: 1px solid #ccc; }}
figcaption {{ font-size: 0.85em; color: #555; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
caption {{ font-weight: bold; padding: 4px; }}
</style></head><body>
{body}
</body></html>
"""
