"""The HTML drift report in a real browser: Debian's chromium, headless, opens the page from a
file with no console message at all (no script error, nothing the page's
Content-Security-Policy refused to load), the DOM it built holds every chart's drawn elements,
and a screenshot shows them painted in their colours.

Skipped where chromium is not installed, failed in CI (``make test`` installs it:
``.ci/install-system-packages``)."""

from __future__ import annotations

import re
import struct
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from iam_gov.drift.render import render
from iam_gov.drift.svg import OKABE_ITO, SEVERITY_COLOURS, SLA_COLOURS
from tests.drift.report_sample import (
    ACCOUNT_SERIES,
    EVALUATIONS,
    SEVERITY_SERIES,
    SLA_BARS,
    SLA_MONTHS,
    SYSTEM_SERIES,
    hostile_report,
    sample_report,
)
from tests.support.pki import require_program

TIMEOUT = 90
WINDOW = (1280, 2400)
CONSOLE = re.compile(r"CONSOLE|Uncaught|Refused to")
"""What chromium logs for a console message, an uncaught error or a blocked load."""


def chromium() -> str:
    return require_program("chromium", "chromium")


def run_chromium(page: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless chromium on a local file, with a profile of its own and nothing to fetch."""
    command = [
        chromium(),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={work / 'profile'}",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--force-color-profile=srgb",
        "--hide-scrollbars",
        "--proxy-server=127.0.0.1:9",  # anything the page tried to fetch would fail
        *args,
        page.as_uri(),
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=work
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"chromium did not finish within {TIMEOUT} s: {command}") from exc
    assert result.returncode == 0, f"chromium exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


@dataclass
class Chart:
    points: int
    empty: bool
    has_title: bool = False
    has_desc: bool = False
    elements: Counter[str] = field(default_factory=Counter)
    """``tag.class`` of every element with ``data-series`` (``path.area``, ``rect.bar`` …)."""
    series: set[str] = field(default_factory=set)


class Dom(HTMLParser):
    """The charts of a DOM as chromium serialised it, and every attribute name in it."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: dict[str, Chart] = {}
        self.attributes: set[str] = set()
        self.tags: set[str] = set()
        self._chart: Chart | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.attributes.update(values)
        self.tags.add(tag)
        if tag == "svg" and "data-chart" in values:
            self._chart = Chart(
                points=int(values["data-points"]), empty=values.get("data-empty") == "true"
            )
            self.charts[values["data-chart"]] = self._chart
        elif self._chart is not None:
            if tag == "title":
                self._chart.has_title = True
            elif tag == "desc":
                self._chart.has_desc = True
            if "data-series" in values and tag in {"path", "rect", "circle"}:
                self._chart.elements[f"{tag}.{values.get('class', '')}"] += 1
                self._chart.series.add(values["data-series"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None


# --- reading the screenshot: PNG with the standard library --------------------------------


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the RGB bytes of an 8-bit RGB or RGBA, non-interlaced PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat = 8, []
    width = height = channels = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        position += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                up_left = previous[i - channels] if i >= channels else 0
                line[i] = (line[i] + _paeth(left, previous[i], up_left)) & 0xFF
        rows.append(
            bytes(line) if channels == 3 else bytes(b for j, b in enumerate(line) if j % 4 != 3)
        )
        previous = line
    return width, height, b"".join(rows)


def colour_counts(rgb: bytes) -> Counter[bytes]:
    return Counter(rgb[i : i + 3] for i in range(0, len(rgb), 3))


def pixels_near(
    counts: Counter[bytes], hex_colour: str, opacity: float = 1.0, slack: int = 3
) -> int:
    """Pixels within ``slack`` of the colour (painted over white at ``opacity``)."""
    target = [
        round(opacity * int(hex_colour[i : i + 2], 16) + (1 - opacity) * 255) for i in (1, 3, 5)
    ]
    return sum(
        n
        for colour, n in counts.items()
        if all(abs(c - t) <= slack for c, t in zip(colour, target, strict=True))
    )


# --- the tests -----------------------------------------------------------------------------


def test_the_console_check_sees_errors(tmp_path: Path) -> None:
    """The check below is not vacuous: on this chromium, a script error is logged."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>x</p><script>console.error('boom'); nope();</script>"
        "</body></html>",
        encoding="utf-8",
    )
    messages = console_messages(run_chromium(page, tmp_path, "--dump-dom").stderr)
    assert any("boom" in line for line in messages)
    assert any("Uncaught ReferenceError" in line for line in messages)


def test_the_report_opens_without_console_errors_and_draws_its_charts(tmp_path: Path) -> None:
    page = tmp_path / "drift-report.html"
    page.write_text(render(sample_report(), "html"), encoding="utf-8")

    result = run_chromium(page, tmp_path, "--dump-dom")

    assert console_messages(result.stderr) == []
    dom = Dom(result.stdout)
    assert set(dom.charts) == {
        "findings-by-severity",
        "findings-by-system",
        "accounts-per-system",
        "leaver-sla",
    }
    assert not dom.tags & {"script", "img", "iframe", "link", "object"}
    assert not dom.attributes & {"src", "href"}  # nothing to fetch
    for name, chart in dom.charts.items():
        assert chart.has_title and chart.has_desc and not chart.empty, name

    severity = dom.charts["findings-by-severity"]
    assert severity.points == EVALUATIONS
    assert severity.elements == {
        "path.area": len(SEVERITY_SERIES),
        "circle.point": len(SEVERITY_SERIES) * EVALUATIONS,
    }
    assert severity.series == set(SEVERITY_SERIES)
    for name, series in (
        ("findings-by-system", SYSTEM_SERIES),
        ("accounts-per-system", ACCOUNT_SERIES),
    ):
        chart = dom.charts[name]
        assert chart.points == EVALUATIONS
        assert chart.elements == {
            "path.line": len(series),
            "circle.point": len(series) * EVALUATIONS,
        }, name
        assert chart.series == set(series)
    sla = dom.charts["leaver-sla"]
    assert sla.points == len(SLA_MONTHS)
    assert sla.elements == {"rect.bar": SLA_BARS}
    assert sla.series == {"within", "over", "still active"}


def test_the_report_with_hostile_text_runs_nothing(tmp_path: Path) -> None:
    page = tmp_path / "hostile.html"
    page.write_text(render(hostile_report(), "html"), encoding="utf-8")

    result = run_chromium(page, tmp_path, "--dump-dom")

    assert console_messages(result.stderr) == []
    dom = Dom(result.stdout)
    assert not dom.tags & {"script", "img"}
    assert not {name for name in dom.attributes if name.startswith("on")}
    assert len(dom.charts) == 4
    assert dom.charts["accounts-per-system"].elements["path.line"] == len(ACCOUNT_SERIES)


def test_the_screenshot_shows_the_charts_painted(tmp_path: Path) -> None:
    page = tmp_path / "drift-report.html"
    page.write_text(render(sample_report(), "html"), encoding="utf-8")
    shot = tmp_path / "drift-report.png"

    result = run_chromium(
        page, tmp_path, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}"
    )
    print(f"screenshot of the drift report: {shot}")

    assert console_messages(result.stderr) == []
    assert shot.stat().st_size > 50_000, shot
    width, height, rgb = read_png(shot)
    assert (width, height) == WINDOW
    counts = colour_counts(rgb)
    white = counts[b"\xff\xff\xff"]
    assert len(counts) > 200, f"{len(counts)} colours only: {shot}"
    assert white < 0.9 * width * height, f"nearly blank: {shot}"
    # Each chart's colours were painted: the SLA bars solid, the severity areas at 85 %
    # opacity, and the lines (with their markers) of the first and fourth system, in the two
    # colours no other chart uses.
    for key, colour in SLA_COLOURS.items():
        assert pixels_near(counts, colour) > 300, (key, shot)
    for key in SEVERITY_SERIES:
        assert pixels_near(counts, SEVERITY_COLOURS[key], opacity=0.85) > 300, (key, shot)
    for colour in (OKABE_ITO[0], OKABE_ITO[3]):
        assert pixels_near(counts, colour) > 100, (colour, shot)
    assert pixels_near(counts, "#b3261e") > 100, ("the failure's red border", shot)
