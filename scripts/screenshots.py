"""Screenshots of the demo cohort's dashboards (see scripts/screenshots)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "docs" / "screenshots"))
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    from playwright.sync_api import sync_playwright

    workdir = Path(tempfile.mkdtemp(prefix="registry-screenshots-"))
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{workdir / 'demo.sqlite3'}", "DEBUG": "true"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput"], ["compiletranslations"], ["demo"]):
        subprocess.run(manage + command, env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    port = free_port()
    server = subprocess.Popen(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/health/", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for language, viewport, suffix in (
                ("en", DESKTOP, "1280"),
                ("fr", DESKTOP, "fr-1280"),
                ("en", PHONE, "390x844"),
            ):
                context = browser.new_context(
                    base_url=base, viewport=viewport, locale={"en": "en-GB", "fr": "fr-FR"}[language],
                    extra_http_headers={"Accept-Language": language},
                )  # fmt: skip
                page = context.new_page()
                page.goto("/accounts/login/")
                page.fill("#id_username", "head")
                page.fill("#id_password", "demo-head")
                with page.expect_navigation():
                    page.keyboard.press("Enter")
                page.goto("/dashboard/")
                page.wait_for_selector("details.chart-data")
                page.wait_for_timeout(500)
                page.screenshot(path=OUT / f"dashboard-{suffix}.png", full_page=True)
                page.goto("/dashboard/report/")
                page.screenshot(path=OUT / f"report-{suffix}.png", full_page=True)
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"Screenshots written to {OUT}")


if __name__ == "__main__":
    main()
