"""A real browser for the console's tests: Debian's Chromium, headless, driven by Selenium through Debian's
chromium-driver (never a browser downloaded at test time).  `make test` installs both (install-system-deps.sh)."""

from __future__ import annotations

import shutil

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def chromium(width: int = 1366, height: int = 900, lang: str = "en") -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    opts.add_argument(f"--window-size={width},{height}")
    opts.add_argument(f"--lang={lang.replace('_', '-')}")
    opts.add_experimental_option("prefs", {"intl.accept_languages": lang.replace("_", "-")})
    return webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=DRIVER))


def wait_for(driver: webdriver.Chrome, css: str, timeout: float = 20.0, text: str | None = None):
    """The element matching `css` once it is there (and holds `text`, if given)."""
    w = WebDriverWait(driver, timeout, poll_frequency=0.2)
    if text is None:
        return w.until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))
    w.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    return driver.find_element(By.CSS_SELECTOR, css)


def log_in(driver: webdriver.Chrome, url: str, name: str, password: str) -> None:
    driver.get(f"{url}/login")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait_for(driver, "header .me form[action='/logout']")
