"""The report in a real browser: headless Chromium renders, parses and prints it offline.

Needs the ``chromium`` binary (Debian package ``chromium``; CI installs it);
without it these tests skip. Every run is offline (DNS resolves nothing) with
a fresh profile, and takes about a second.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

import groupify
from groupify.report import render_html
from tests.report.test_report import EXAMPLE, hostile_plan

BROWSERS = ("chromium", "chromium-browser")
WIDTH, HEIGHT = 1280, 2000


def _browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture(scope="module")
def chromium() -> str:
    found = _browser()
    if found is None:
        pytest.skip(
            "headless Chromium not found (install the Debian package 'chromium': "
            "apt-get install -y chromium); CI installs it"
        )
    return found


@pytest.fixture(scope="module")
def example() -> groupify.Plan:
    inventory = groupify.load_gaad(EXAMPLE)
    return groupify.build_plan(groupify.propose(inventory, exclude_tags=["BreakGlass"]))


@pytest.fixture(scope="module")
def report(example: groupify.Plan, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_html(example), encoding="utf-8")
    return path


def browse(chromium: str, page: Path, *args: str, tmp: Path) -> subprocess.CompletedProcess[bytes]:
    """Run headless Chromium once on *page*, offline, with a fresh profile."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    command = [
        chromium,
        "--headless",
        "--no-sandbox",  # root in a container; the page is our own file
        "--disable-gpu",
        "--disable-dev-shm-usage",  # containers often have a small /dev/shm
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    if done.returncode:
        pytest.fail(f"chromium failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return done


# -- a small PNG decoder (8-bit RGB/RGBA, not interlaced: what Chromium writes) -------


def decode_png(data: bytes) -> tuple[int, int, list[bytes], int]:
    """(width, height, rows of pixel bytes, bytes per pixel) of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert header is not None, "no IHDR chunk"
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG form {header}"
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind_byte, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind_byte == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind_byte == 2:  # Up
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif kind_byte == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif kind_byte == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def test_screenshot_is_a_real_page(chromium: str, report: Path, tmp_path: Path) -> None:
    """The first screen renders: text on white, varied, with the removal marks in red."""
    png = tmp_path / "report.png"
    browse(chromium, report, f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", tmp=tmp_path)
    data = png.read_bytes()
    assert len(data) > 50_000, "screenshot too small to hold a rendered report"
    width, height, rows, bpp = decode_png(data)
    assert (width, height) == (WIDTH, HEIGHT)
    colours: set[bytes] = set()
    ink = red = 0
    for row in rows[::4]:
        for x in range(0, width * bpp, 2 * bpp):
            r, g, b = row[x], row[x + 1], row[x + 2]
            colours.add(bytes((r, g, b)))
            if r + g + b < 600:
                ink += 1
            if r > 170 and g < 90 and b < 100:
                red += 1
    sampled = (height // 4) * (width // 2)
    assert len(colours) > 100, "too few colours: the page looks blank or flat"
    assert 0.01 < ink / sampled < 0.5, f"ink covers {ink / sampled:.1%} of the page"
    assert red > 20, "no red marking of the steps that remove a direct grant on the first screen"


class _Dom(HTMLParser):
    """Elements by tag, classes of rows, and the text of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.row_classes: list[str] = []
        self.headings: list[str] = []
        self.pre: list[str] = []
        self.text: list[str] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "tr":
            self.row_classes.append(dict(attrs).get("class") or "")
        if tag in ("h2", "pre"):
            self._open.append(tag)
            getattr(self, "headings" if tag == "h2" else "pre").append("")

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._open:
            target = self.headings if self._open[-1] == "h2" else self.pre
            target[-1] += data


def dump_dom(chromium: str, page: Path, tmp: Path, *args: str) -> _Dom:
    done = browse(chromium, page, "--dump-dom", *args, tmp=tmp)
    dom = _Dom()
    dom.feed(done.stdout.decode("utf-8"))
    return dom


def page_requests(netlog: Path) -> list[str]:
    """URLs the page itself asked for (the browser's own background requests left out)."""
    log = json.loads(netlog.read_text(encoding="utf-8"))
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    return [
        e["params"]["url"]
        for e in log["events"]
        if types.get(e["type"]) == "URL_REQUEST_START_JOB"
        and "url" in e.get("params", {})
        and e["params"].get("initiator") != "not an origin"
    ]


def test_rendered_dom_holds_the_facts(
    chromium: str, example: groupify.Plan, report: Path, tmp_path: Path
) -> None:
    """After the browser parsed the page: sections, groups, marked steps, rollback commands."""
    netlog = tmp_path / "net.json"
    dom = dump_dom(chromium, report, tmp_path, f"--log-net-log={netlog}")
    text = " ".join(" ".join(dom.text).split())
    assert "script" not in dom.tags
    assert dom.headings[:4] == [
        "1. Scope",
        "2. Risk review",
        "3. Verification",
        "4. Documented exceptions",
    ]
    assert "9. Rollback" in dom.headings
    for g in example.groups:
        assert g["name"] in text
    removals = sum(1 for s in example.steps if s.is_destructive)
    assert dom.row_classes.count("removal") == removals
    assert "groupify rollback --journal plan.json.journal --dry-run" in dom.pre[0]
    assert "no gap, no widening" in text
    assert "IAM.2 stays failing for 1 user" in text
    assert page_requests(netlog) == [], "the report fetched something: not self-contained"


def test_network_check_sees_external_resources(chromium: str, tmp_path: Path) -> None:
    """The check above would catch a page that loads a stylesheet or an image."""
    page = tmp_path / "external.html"
    page.write_text(
        '<style>@import url("https://fonts.example.invalid/f.css");</style>'
        '<img src="http://cdn.example.invalid/i.png">',
        encoding="utf-8",
    )
    netlog = tmp_path / "net.json"
    dump_dom(chromium, page, tmp_path, f"--log-net-log={netlog}")
    assert sorted(page_requests(netlog)) == [
        "http://cdn.example.invalid/i.png",
        "https://fonts.example.invalid/f.css",
    ]


def test_hostile_text_stays_text_in_the_browser(chromium: str, tmp_path: Path) -> None:
    """Markup in a policy path, a document and reasons creates no element when parsed."""
    page = tmp_path / "hostile.html"
    page.write_text(render_html(hostile_plan()), encoding="utf-8")
    dom = dump_dom(chromium, page, tmp_path)
    assert not {"script", "img", "b"} & set(dom.tags)
    text = "".join(dom.text)
    assert "<script>alert(1)</script>" in text
    assert "<img src=x onerror=alert(3)>" in text
    assert "</pre><script>alert(2)</script>" in text


def test_prints_on_a4(chromium: str, report: Path, tmp_path: Path) -> None:
    """Printed to PDF: several A4 pages (the report's print style applies)."""
    pdf = tmp_path / "report.pdf"
    browse(chromium, report, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", tmp=tmp_path)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data)
    assert len(pages) >= 3
    boxes = [
        (float(w), float(h))
        for w, h in re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    ]
    assert boxes
    # A4 is 595.3 x 841.9 points (US Letter, Chromium's default, 612 x 792)
    assert all(abs(w - 595.3) < 2 and abs(h - 841.9) < 2 for w, h in boxes), boxes


# -- notebook views under JupyterLab's own table style ------------------------------

#: JupyterLab's rendermime table rules (packages/rendermime/style/base.css), which a
#: notebook output sits under: every cell right-aligned, with a more specific selector
#: than a plain ``table.x td``.
JUPYTERLAB_CSS = """
.jp-RenderedHTMLCommon table{border-collapse:collapse;border-spacing:0;border:none;
table-layout:fixed;margin-left:auto;margin-right:auto}
.jp-RenderedHTMLCommon td,.jp-RenderedHTMLCommon th,.jp-RenderedHTMLCommon tr{
vertical-align:middle;padding:.5em;line-height:normal;white-space:normal;max-width:none;
border:none}
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon td,
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon th,
:not(.jp-RenderedMarkdown).jp-RenderedHTMLCommon tr{text-align:right}
"""

#: Writes, for every cell of the output, its computed alignment and text into the DOM.
_ALIGNMENTS = """<script>
const cells = [];
for (const cell of document.querySelectorAll(".jp-RenderedHTMLCommon td")) {
  cells.push([cell.closest("table").className, getComputedStyle(cell).textAlign,
              cell.textContent.trim()]);
}
const out = document.createElement("pre");
out.id = "alignments";
out.textContent = JSON.stringify(cells);
document.body.appendChild(out);
</script>"""


def alignments(chromium: str, markup: str, tmp: Path) -> list[tuple[str, str, str]]:
    """(table class, computed text-align, text) of every cell of *markup* shown as
    JupyterLab shows an output."""
    page = tmp / f"jupyter-{len(list(tmp.glob('jupyter-*')))}.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{JUPYTERLAB_CSS}</style>"
        "</head><body><div class='jp-OutputArea-output jp-RenderedHTMLCommon jp-RenderedHTML'>"
        f"{markup}</div>{_ALIGNMENTS}</body></html>",
        encoding="utf-8",
    )
    done = browse(chromium, page, "--dump-dom", tmp=tmp)
    found = re.search(r'<pre id="alignments">(.*?)</pre>', done.stdout.decode("utf-8"), re.S)
    assert found, "the page did not report its cells"
    return [tuple(c) for c in json.loads(html.unescape(found.group(1)))]


_NUMBER = re.compile(r"[\d,]+")


def test_notebook_views_align_text_left_under_jupyterlab(
    chromium: str, example: groupify.Plan, tmp_path: Path
) -> None:
    """Under JupyterLab's right-aligning table style, text cells of every view (and of the
    report shown in a notebook) stay left-aligned and numbers right-aligned."""
    from groupify.runtime.result import ApplyResult
    from groupify.runtime.views import dry_run_view

    proposal = groupify.propose(groupify.load_gaad(EXAMPLE), exclude_tags=["BreakGlass"])
    preview = ApplyResult("dry-run", [], [s.id for s in example.steps[:3]], [], [])
    views = {
        "inventory": proposal.inventory._repr_html_(),
        "proposal": proposal._repr_html_(),
        "plan": example._repr_html_(),
        "dry run": dry_run_view(preview, example)._repr_html_(),
        "report": render_html(example, standalone=False),
    }
    for name, markup in views.items():
        cells = alignments(chromium, markup, tmp_path)
        assert cells, name
        numbers = 0
        for table, align, text in cells:
            if not text or "summary" in table:  # labels and values: all left
                assert not text or align == "left", (name, table, text, align)
                continue
            number = bool(_NUMBER.fullmatch(text))
            numbers += number
            assert align == ("right" if number else "left"), (name, table, text, align)
        assert numbers or name in ("inventory", "dry run"), f"{name}: no number cell checked"
