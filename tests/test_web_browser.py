"""The portal in a real browser: Debian's chromium, headless, driven by Selenium through
chromium-driver, against `compliance serve` with two workers on SQLite and PostgreSQL. Sign in,
open the portfolio, drill down to a control, download an evidence file and check its hash.
Screenshots go to out/web-screenshots/ (the README's come from there)."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from compliance.store import db
from compliance.web import accounts
from tests.conftest import Cli
from tests.reliability import ROOT
from tests.web_helpers import AS_OF, EXAMPLES, PASSWORD

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"
SHOTS = ROOT / "out" / "web-screenshots"
COMPLIANCE = Path(sys.executable).with_name("compliance")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[str]:
    """`compliance serve --workers 2` on the examples, with an auditor account."""
    store = tmp_path / "evidence-store"
    result = Cli(db_url, store)("import", str(EXAMPLES))
    assert result.exit_code == 0, result.output
    engine = db.make_engine(db_url)
    with db.transaction(engine) as session:
        accounts.add_user(session, "auditor@example.com", "auditor", PASSWORD)
    engine.dispose()
    port = _free_port()
    proc = subprocess.Popen(
        [
            str(COMPLIANCE),
            "--db",
            db_url,
            "--evidence-dir",
            str(store),
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/login", proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _browser(downloads: Path):  # type: ignore[no-untyped-def]
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        if os.environ.get("COMPLIANCE_REQUIRE_BROWSER") == "1":
            pytest.fail(
                "chromium and chromium-driver are not installed; run the suite through `make test`"
            )
        pytest.skip(
            "no chromium (run `make test` to install Debian's chromium and chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1000",
    ):
        options.add_argument(arg)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.profile_dir = profile
    return driver


def _shot(driver, name: str, backend: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{backend}-{name}.png"))


def _until(driver, condition, what: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for a page to arrive: a click that submits a form returns before the next page has
    loaded, and a loaded machine (Argon2 on sign-in, the suite's other workers) can take seconds."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 60, poll_frequency=0.1).until(lambda d: condition(d), message=what)


def test_sign_in_drill_down_and_download_in_a_browser(
    served: str, backend: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = _browser(downloads)
    try:
        driver.set_page_load_timeout(60)
        driver.implicitly_wait(30)  # elements of a page still loading
        driver.get(f"{served}/portfolio")
        assert "/login" in driver.current_url  # nobody gets in without an account
        _shot(driver, "sign-in", backend)
        driver.find_element(By.ID, "username").send_keys("auditor@example.com")
        driver.find_element(By.ID, "password").send_keys("wrong password!")
        driver.find_element(By.ID, "sign-in").click()
        _until(driver, lambda d: "Wrong name or password" in d.page_source, "the refusal")
        for field, value in (("username", "auditor@example.com"), ("password", PASSWORD)):
            driver.find_element(By.ID, field).clear()
            driver.find_element(By.ID, field).send_keys(value)
        driver.find_element(By.ID, "sign-in").click()
        _until(driver, lambda d: d.current_url.endswith("/portfolio"), "the portfolio")
        # The as-of date picker is a GET form: choose the demo's date with it.
        picker = driver.find_element(By.ID, "as_of")
        driver.execute_cdp_cmd(
            "Runtime.evaluate",
            {"expression": f"document.getElementById('as_of').value = '{AS_OF}'"},
        )
        picker.submit()
        _until(driver, lambda d: f"as_of={AS_OF}" in d.current_url, "the portfolio as of the date")
        assert "Payments reconciliation agent" in driver.page_source
        _shot(driver, "portfolio", backend)
        driver.find_element(By.LINK_TEXT, "Payments reconciliation agent").click()
        assert "BLOCK" in driver.find_element(By.ID, "decision").text
        assert "IDN-02" in driver.find_element(By.ID, "decision").text
        _shot(driver, "deployment", backend)
        driver.find_element(By.PARTIAL_LINK_TEXT, "Cybersecurity Framework").click()
        _shot(driver, "framework", backend)
        driver.find_element(By.LINK_TEXT, "PR.AA-05").click()
        _until(
            driver, lambda d: "PR.AA-05" in d.find_element(By.TAG_NAME, "h1").text, "the control"
        )
        assert driver.find_element(By.ID, "control-status").text
        _shot(driver, "control", backend)
        link = driver.find_elements(By.CLASS_NAME, "evidence-link")[0]
        link.click()
        expected = driver.find_element(By.ID, "sha256").text.strip()
        assert len(expected) == 64
        assert "Verified" in driver.page_source
        _shot(driver, "evidence", backend)
        driver.find_element(By.ID, "download").click()
        deadline = time.monotonic() + 30
        files: list[Path] = []
        while time.monotonic() < deadline:
            files = [p for p in downloads.iterdir() if not p.name.endswith(".crdownload")]
            if files:
                break
            time.sleep(0.2)
        assert files, "nothing was downloaded"
        assert hashlib.sha256(files[0].read_bytes()).hexdigest() == expected
        # Signing out ends the session.
        driver.find_element(By.XPATH, "//button[text()='Sign out']").click()
        _until(driver, lambda d: "/login" in d.current_url, "the sign-in page")
        driver.get(f"{served}/portfolio")
        assert "/login" in driver.current_url
    finally:
        driver.quit()
        shutil.rmtree(driver.profile_dir, ignore_errors=True)
