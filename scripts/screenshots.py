"""Screenshots of the documentation site at 800 and 1280 px, in headless Chromium.

A look at what a reader sees (wrapped code, reference tables, overloads), not a CI step:
it needs a browser (Debian: ``apt-get install chromium``). It builds the site strictly,
serves it on loopback, and writes one PNG per page and width::

    python scripts/screenshots.py                 # into ./screenshots/
    python scripts/screenshots.py --out /tmp/shots --page guides/cli/

Every wait is bounded: the build, each browser run and the server all end by themselves.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (800, 1280)
HEIGHT = 1400
# The pages issue 26 looked at: TaskBridge.get (overloads, Returns), code-heavy guides,
# the configuration reference (aiohttp and LimiterBackend links).
PAGES = (
    "reference/bridge/",
    "reference/bridge/#taskbridge.TaskBridge.get",
    "reference/config/#limiter-backends",
    "guides/asgi/",
    "guides/cli/",
)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",  # the page's own scrollbars (code blocks) still show
)


def build(site: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, timeout=300)


@contextlib.contextmanager
def serve(site: Path) -> Iterator[str]:
    """The built site over HTTP on a free loopback port (search and JS need HTTP)."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def shoot(browser: str, url: str, width: int, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="taskbridge-chromium-") as profile:
        cmd = [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{HEIGHT}",
            "--virtual-time-budget=3000",  # let the theme's scripts run before the shot
            f"--screenshot={out}",
            url,
        ]
        subprocess.run(cmd, check=True, timeout=90, capture_output=True)


# Headless Chromium paints nothing when it scrolls the top-level page to a fragment, so a
# page with an anchor is shown in a full-window iframe that this wrapper scrolls instead.
WRAPPER = """<!doctype html><html><body style="margin:0;overflow:hidden">
<iframe id="f" src="{src}" style="border:0;width:100vw;height:100vh"></iframe>
<script>
const f = document.getElementById("f");
f.onload = () => {{
  const w = f.contentWindow, el = w.document.getElementById({anchor!r});
  w.document.documentElement.style.scrollBehavior = "auto";
  if (el) w.scrollTo(0, el.getBoundingClientRect().top + w.scrollY - 64);
}};
</script></body></html>
"""


def url_of(site: Path, base: str, page: str, index: int) -> str:
    """The URL that shows ``page`` (scrolled to its ``#anchor``, if any)."""
    path, _, anchor = page.partition("#")
    if not anchor:
        return base + path
    wrapper = f"__screenshot_{index}.html"
    (site / wrapper).write_text(WRAPPER.format(src="/" + path, anchor=anchor))
    return base + wrapper


def name_of(page: str, width: int) -> str:
    slug = page.replace("/#", "-").replace("/", "-").replace(".", "-").strip("-") or "home"
    return f"{slug}-{width}.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="PNG folder")
    parser.add_argument("--page", action="append", help="a page path (repeatable)")
    parser.add_argument("--browser", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args(argv)
    if shutil.which(args.browser) is None:
        parser.error(f"no browser {args.browser!r}: apt-get install chromium (Debian)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="taskbridge-site-") as site_dir:
        site = Path(site_dir)
        build(site)
        with serve(site) as base:
            for index, page in enumerate(args.page or PAGES):
                url = url_of(site, base, page, index)
                for width in WIDTHS:
                    out = args.out / name_of(page, width)
                    shoot(args.browser, url, width, out)
                    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
