"""Issue 12, in a real browser: Debian's Chromium (Selenium) on head office's console, with head office, a kiosk
and mosquitto as real processes on loopback.  An operator logs in, watches an order the kiosk just sold appear
without reloading, finds it by its number, refunds part of it and sees the kiosk's answer, locks the kiosk and sees
it turn red in the fleet; a viewer sees no action and is refused when they try one anyway."""

from __future__ import annotations

import tomllib

import pytest
from selenium.webdriver.common.by import By

from headoffice import users
from headoffice.migrate import upgrade
from tests.browser import chromium, log_in, wait_for
from tests.conftest import write_config
from tests.loopback import wait_until
from tests.test_catalog_e2e import Fleet

PASSWORD = "correct horse battery"
RED = "rgba(163, 18, 13, 1)"


@pytest.fixture
def running(tmp_path):
    fleet = Fleet(tmp_path, hq_commands={"answer_timeout_s": 30.0})
    hq_toml = tomllib.loads(fleet.hq.config.read_text())
    hq_toml["ingest"] = {"stats_every_s": 1.0, "stats_settle_s": 0.5}  # the statistics follow within seconds
    write_config(fleet.hq.config, hq_toml)
    upgrade(fleet.hq.engine)
    users.add_user(fleet.hq.engine, "lin", "operator", PASSWORD)
    users.add_user(fleet.hq.engine, "wang", "viewer", PASSWORD)
    port = tomllib.loads(fleet.hq.config.read_text())["http"]["port"]
    fleet.hq.start()
    fleet.kiosk.start()
    driver = chromium()
    try:
        yield fleet, f"http://127.0.0.1:{port}", driver
    finally:
        driver.quit()
        fleet.close()


def test_an_operator_runs_the_kiosks_from_the_console_and_a_viewer_cannot_act(running):
    fleet, url, driver = running
    k = fleet.kiosk
    log_in(driver, url, "lin", PASSWORD)
    driver.get(f"{url}/orders")
    wait_for(driver, "tbody#orders")
    assert not driver.find_elements(By.CSS_SELECTOR, "tr[data-order]")

    # a shopper pays at the kiosk: the order appears on the open page, nobody reloads it
    k.scan_and_pay("281234567890123451")
    row = wait_for(driver, "tr[data-order]", timeout=40)
    order_no = row.get_attribute("data-order")
    assert order_no.startswith("T") and "s1" in row.text

    # found by its number
    box = driver.find_element(By.NAME, "q")
    box.send_keys(order_no)
    driver.find_element(By.ID, "search-button").click()
    wait_for(driver, f"tr[data-order='{order_no}']")
    assert len(driver.find_elements(By.CSS_SELECTOR, "tr[data-order]")) == 1

    # part of it refunded: confirmed first, then the kiosk's answer shows on the order's page
    driver.find_element(By.LINK_TEXT, order_no).click()
    wait_for(driver, "#action-refund")
    driver.find_element(By.ID, "refund-amount").send_keys("1.00")
    driver.find_element(By.NAME, "reason").send_keys("dented can")
    driver.find_element(By.ID, "action-refund").click()
    assert "Refund 1.00 of order" in wait_for(driver, "#summary").text
    wait_for(driver, "#confirm").click()  # the confirmation page, once it has loaded
    answer = wait_for(driver, "tr[data-command='refund']", timeout=40, text="out_request_no")
    assert "amount: 100" in answer.text and "lin" in answer.text

    def refunded() -> str:
        driver.refresh()
        return wait_for(driver, "#refunded").text

    assert wait_until(lambda: refunded() == "CN¥1.00", 30)  # the kiosk's refund reached head office

    # the statistics count the sale (head office's roll-up) and the refund
    def summary() -> str:
        driver.get(f"{url}/stats")
        return wait_for(driver, "#summary").text

    assert wait_until(lambda: "Orders 1 " in summary() and "Refunded CN¥1.00" in summary(), 30), summary()

    # the kiosk locked: it goes red in the fleet
    driver.get(f"{url}/kiosks/s1/k1")
    driver.find_element(By.CSS_SELECTOR, "form:has(#action-lock) input[name='reason']").send_keys("cleaning")
    driver.find_element(By.ID, "action-lock").click()
    wait_for(driver, "#confirm").click()  # the confirmation page, once it has loaded
    wait_for(driver, "tr[data-command='lock']", timeout=40, text="locked: True")
    driver.get(f"{url}/fleet")
    cell = wait_for(driver, "tr[data-kiosk='s1/k1'] td.state-locked", timeout=40)
    assert cell.value_of_css_property("color") == RED
    assert "s1/k1" in driver.find_element(By.ID, "fleet").get_attribute("innerHTML")
    driver.get(f"{url}/audit")
    actions = [e.get_attribute("data-action") for e in driver.find_elements(By.CSS_SELECTOR, "tr[data-action]")]
    assert actions == ["lock", "refund"]

    # a viewer: no action on the page, and one sent anyway is refused
    driver.find_element(By.CSS_SELECTOR, "form[action='/logout'] button").click()
    wait_for(driver, "form[action='/login']")
    log_in(driver, url, "wang", PASSWORD)
    driver.get(f"{url}/kiosks/s1/k1")
    wait_for(driver, "#commands")
    assert not driver.find_elements(By.ID, "action-unlock")
    driver.execute_script(
        """const f = document.createElement('form'); f.method = 'post'; f.action = '/actions';
        for (const [k, v] of [['csrf', document.querySelector("input[name='csrf']").value], ['action', 'unlock'],
                              ['store', 's1'], ['kiosk', 'k1'], ['confirmed', 'yes']]) {
            const i = document.createElement('input'); i.name = k; i.value = v; f.appendChild(i); }
        document.body.appendChild(f); f.submit();"""
    )
    assert "may look but not act" in wait_for(driver, "p.error").text
    driver.get(f"{url}/fleet")
    assert wait_for(driver, "tr[data-kiosk='s1/k1'] td.state-locked")  # still locked
