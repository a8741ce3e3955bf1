"""Open the built book's pages in headless Chromium (Debian's `chromium`, driven by Playwright;
never a downloaded browser) and report what a reader would see wrong: console errors, images that
do not load, elements wider than the window or their content column, code cells shown expanded.
One screenshot per page is saved for people to look at."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

#: Where to look for Chromium: `PLURALIGN_CHROMIUM`, then Debian's names.
CHROMIUM_ENV = "PLURALIGN_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser")
VIEWPORT = {"width": 1280, "height": 900}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

#: Runs in the page: every problem a reader would meet, as text.
PAGE_PROBLEMS_JS = "\n".join(
    line
    for line in (Path(__file__).parent / "page_problems.js").read_text().splitlines()
    if not line.startswith("//")
)


@dataclass
class PageReport:
    """What one page showed: its problems and where its screenshot is."""

    page: str
    problems: list[str] = field(default_factory=list)
    screenshot: Path | None = None


def find_chromium() -> str | None:
    """The Chromium executable to drive, or None when this machine has none."""
    if configured := os.environ.get(CHROMIUM_ENV):
        return configured if Path(configured).is_file() else None
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    return None


def check_pages(
    html_dir: Path, pages: list[Path], screenshots: Path, chromium: str
) -> list[PageReport]:
    """Load each page from disk at a 1280-pixel window, collect its problems, screenshot it."""
    from playwright.sync_api import sync_playwright

    screenshots.mkdir(parents=True, exist_ok=True)
    reports = []
    with (
        tempfile.TemporaryDirectory(prefix="pluralign-chromium-") as profile,
        sync_playwright() as driver,
    ):
        context = driver.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=VIEWPORT,
        )
        # Nothing leaves the machine: any request that is not a local file is refused.
        context.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith("file:") else route.abort()
            ),
        )
        for path in pages:
            relative = path.relative_to(html_dir).as_posix()
            report = PageReport(relative)
            page = context.new_page()
            page.on(
                "console",
                lambda message, report=report: (
                    report.problems.append(f"console error: {message.text}")
                    if message.type == "error"
                    else None
                ),
            )
            page.on(
                "pageerror",
                lambda error, report=report: report.problems.append(f"page error: {error}"),
            )
            page.on(
                "requestfailed",
                lambda request, report=report: report.problems.append(
                    f"request failed: {request.url}"
                ),
            )
            page.goto(path.resolve().as_uri(), wait_until="load")
            page.wait_for_timeout(300)  # the theme's scripts settle the layout
            report.problems.extend(page.evaluate(PAGE_PROBLEMS_JS))
            report.screenshot = screenshots / (
                relative.replace("/", "__").removesuffix(".html") + ".png"
            )
            page.screenshot(path=str(report.screenshot), full_page=True)
            page.close()
            reports.append(report)
        context.close()
    return reports
