#!/usr/bin/python3
"""desk-browser.py — the compliance desk's console in a real browser
(headless Chromium driven by Selenium), run by desk-browser.sh, which set up
the stack, the NSS databases and the AutoSelectCertificateForUrls policy.

As the operator: the console loads (the client certificate is the login),
a request submitted meanwhile appears without reloading, one task is
approved (confirmed) and the authority's GET shows it no longer waiting,
the other is rejected with a reason the authority then reads; the request
page and English work. The urgent-orders board shows an urgent order whose
ratification clock counts down in the page; today's statistics count the
three tasks submitted (numbers and the chart's label), another day none;
both pages in Spanish and English. A browser without a certificate, or with an
official's, gets no console. Screenshots go to SHOTS.
"""
import os
import re
import subprocess
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

DESK = os.environ["DESK"]
WORK = os.environ["WORK"]
SHOTS = os.environ["SHOTS"]
WAIT = 60	# seconds: a bound for a loaded machine, not a timing assertion


def fail(msg):
    print("FAIL: desk-browser: " + msg, file=sys.stderr)
    sys.exit(1)


def browser(home, name):
    """Chromium whose NSS database (the certificates) is HOME's."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1400,900",
                 "--user-data-dir=" + os.path.join(WORK, "profile-" + name)):
        opts.add_argument(flag)
    env = dict(os.environ, HOME=home)
    service = Service("/usr/bin/chromedriver", env=env,
                      log_path=os.path.join(WORK, "chromedriver-" + name + ".log"))
    drv = webdriver.Chrome(service=service, options=opts)
    drv.set_page_load_timeout(WAIT)
    return drv


def ctl(*args):
    """warrantctl as the federal prosecutor's official; its output."""
    cmd = [os.environ["WARRANTCTL"], "--url", os.environ["WARRANT_URL"],
           "--cacert", os.environ["WARRANT_CACERT"],
           "--cert", os.environ["FGR_CERT"], "--key", os.environ["FGR_KEY"],
           "--timeout", "20", "--authority", "FGR", "--carrier", "MXCARRIER",
           "--templates", os.environ["TEMPLATES"]] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def row(drv, task):
    return drv.find_element(By.CSS_SELECTOR, 'tr[data-task="%s"]' % task)


def wait_for(drv, cond, what):
    try:
        return WebDriverWait(drv, WAIT, poll_frequency=0.2).until(cond)
    except Exception:
        drv.save_screenshot(os.path.join(SHOTS, "failed.png"))
        fail("%s (page: %s)" % (what, drv.find_element(By.TAG_NAME, "body").text[:400]))


def operator_session():
    drv = browser(os.environ["HOME_OP"], "op")
    try:
        drv.get(DESK + "/")
        wait_for(drv, lambda d: "Sofía Ramírez Ortega" in d.find_element(By.ID, "me").text,
                 "the console does not know the operator")
        if drv.find_element(By.TAG_NAME, "h1").text != "Mesa de cumplimiento":
            fail("the console is not in Spanish")
        # A request arrives while the page is open: it appears by itself.
        rc, out = ctl("submit", os.environ["RECORDS"])
        m = re.search(r"MXC-\d+-\d+", out)
        if rc != 0 or not m:
            fail("submit: " + out)
        ref = m.group(0)
        wait_for(drv, lambda d: len(d.find_elements(
            By.CSS_SELECTOR, 'tr[data-ref="%s"]' % ref)) == 2,
            "the new request's two tasks did not appear without reloading")
        tasks = [r.get_attribute("data-task") for r in
                 drv.find_elements(By.CSS_SELECTOR, 'tr[data-ref="%s"]' % ref)]
        drv.save_screenshot(os.path.join(SHOTS, "desk-queue.png"))

        # Approve the first (confirmed), reject the second (with a reason).
        row(drv, tasks[0]).find_element(By.CSS_SELECTOR, 'button[data-action="approve"]').click()
        wait_for(drv, EC.alert_is_present(), "no confirmation before approving")
        drv.switch_to.alert.accept()
        wait_for(drv, lambda d: not d.find_elements(
            By.CSS_SELECTOR, 'tr[data-task="%s"].AwaitingApproval' % tasks[0]),
            "the approved task still shows AwaitingApproval")
        rc, out = ctl("status", ref)
        if rc != 0 or ("%s AwaitingApproval" % tasks[0]) in out:
            fail("the authority's GET does not reflect the approval: " + out)

        row(drv, tasks[1]).find_element(By.CSS_SELECTOR, 'button[data-action="reject"]').click()
        wait_for(drv, EC.alert_is_present(), "no prompt for the rejection's reason")
        alert = drv.switch_to.alert
        alert.send_keys("La orden no cubre ese periodo")
        alert.accept()
        wait_for(drv, lambda d: not d.find_elements(
            By.CSS_SELECTOR, 'tr[data-task="%s"]' % tasks[1]),
            "the rejected task is still in the queue")
        rc, out = ctl("status", ref)
        if "Rejected (622" not in out or "La orden no cubre ese periodo" not in out:
            fail("the authority's GET does not show the rejection: " + out)

        # The request's page, then English.
        drv.get(DESK + "/request.html?ref=" + ref)
        wait_for(drv, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#objects tbody tr")) >= 3,
                 "the request page lists no objects")
        body = drv.find_element(By.ID, "objects").text
        if "Rejected" not in body:
            fail("the request page does not show the rejection: " + body)
        drv.save_screenshot(os.path.join(SHOTS, "desk-request.png"))
        drv.find_element(By.ID, "lang").click()
        wait_for(drv, lambda d: d.find_element(By.CSS_SELECTOR, "h1 span").text == "Request",
                 "no English")
        urgent_board(drv)
        day_statistics(drv)
        # The CSP holds: no error from a blocked inline script or origin.
        for entry in drv.get_log("browser") if hasattr(drv, "get_log") else []:
            if "Content Security Policy" in entry.get("message", ""):
                fail("CSP violation: " + entry["message"])
    finally:
        drv.quit()


def language(drv, title):
    """Switch the page to the language whose h1 is title (the button)."""
    if drv.find_element(By.TAG_NAME, "h1").text != title:
        drv.find_element(By.ID, "lang").click()
    wait_for(drv, lambda d: d.find_element(By.TAG_NAME, "h1").text == title,
             "the page does not switch to " + repr(title))


def clock_seconds(drv, ref):
    """The board's ratification clock of ref as shown (hh:mm:ss), seconds."""
    text = drv.find_element(By.CSS_SELECTOR, 'tr[data-ref="%s"] td.clock' % ref).text
    m = re.fullmatch(r"(\d+):(\d\d):(\d\d)", text.strip())
    if not m:
        return 1 << 30	# not drawn (yet): never lower than a reading
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))


def urgent_board(drv):
    """An urgent order on the board, its clock running in the page."""
    rc, out = ctl("submit", os.environ["URGENT"])
    m = re.search(r"MXC-\d+-\d+", out)
    if rc != 0 or not m:
        fail("submit the urgent order: " + out)
    ref = m.group(0)
    drv.get(DESK + "/urgent.html")
    language(drv, "Órdenes urgentes por ratificar")
    sel = 'tr[data-ref="%s"]' % ref
    wait_for(drv, lambda d: d.find_elements(By.CSS_SELECTOR, sel + " td.clock") and
             re.fullmatch(r"\d+:\d\d:\d\d", d.find_element(
                 By.CSS_SELECTOR, sel + " td.clock").text.strip()),
             "the urgent order %s has no running clock on the board" % ref)
    cells = [c.text for c in drv.find_elements(By.CSS_SELECTOR, sel + " td")]
    if cells[1] != "FGR" or not cells[2] or not cells[3] or cells[5] != "1":
        fail("the board's row for %s: %r" % (ref, cells))
    first = clock_seconds(drv, ref)
    if first == 1 << 30 or not 86400 < first <= 48 * 3600:
        fail("a 48 h ratification clock shows %d s" % first)
    # The seconds tick in the page: a later reading is lower.
    wait_for(drv, lambda d: clock_seconds(d, ref) < first,
             "the clock of %s does not count down (%d s)" % (ref, first))
    if "clock-ok" not in drv.find_element(By.CSS_SELECTOR, sel).get_attribute("class"):
        fail("a clock with 48 h left is not coloured as far from its deadline")
    # Nothing expires in this test: "None." spans the whole table.
    none = drv.find_elements(By.CSS_SELECTOR, "#expiring tbody td")
    heads = len(drv.find_elements(By.CSS_SELECTOR, "#expiring thead th"))
    if len(none) != 1 or none[0].text != "Ninguna." or \
            none[0].get_attribute("colspan") != str(heads):
        fail("the empty expiring table: %r, spanning %s of %d columns" %
             ([c.text for c in none], none[0].get_attribute("colspan")
              if none else None, heads))
    drv.save_screenshot(os.path.join(SHOTS, "desk-urgent.png"))
    language(drv, "Urgent orders awaiting ratification")
    second = clock_seconds(drv, ref)
    wait_for(drv, lambda d: clock_seconds(d, ref) < second,
             "in English the clock of %s does not count down" % ref)
    if drv.find_element(By.CSS_SELECTOR, "#orders th").text != "Reference":
        fail("the board's table is not in English")


def stat_cell(drv, authority, rtype, field):
    rows = drv.find_elements(By.CSS_SELECTOR,
                             '#by-authority tr[data-authority="%s"][data-type="%s"] td.%s'
                             % (authority, rtype, field))
    return rows[0].text if rows else None


def day_statistics(drv):
    """Today's statistics count what this test submitted; another day none.

    Submitted today as FGR: records.xml (two communication-records tasks,
    one approved, one rejected) and the urgent order (one realtime-location
    task): three tasks. The rejection answers its task at once.
    """
    drv.get(DESK + "/stats.html")
    language(drv, "Estadísticas del día")
    wait_for(drv, lambda d: d.find_element(By.ID, "n-requests").text == "3" and
             stat_cell(d, "FGR", "communication-records", "requests") == "2" and
             stat_cell(d, "FGR", "realtime-location", "requests") == "1",
             "today's statistics do not count the three tasks submitted")
    wait_for(drv, lambda d: int(stat_cell(d, "FGR", "communication-records",
                                          "answered") or 0) >= 1,
             "the rejected task is not counted as answered")
    if drv.find_element(By.ID, "date").get_attribute("value") != time.strftime("%Y-%m-%d"):
        fail("the date picker is not today: " +
             drv.find_element(By.ID, "date").get_attribute("value"))
    # The charts draw the same numbers: FGR's bar is labelled 3.
    totals = [t.text for t in drv.find_elements(By.CSS_SELECTOR,
                                                "#chart-authority svg text.bar-total")]
    if totals != ["3"]:
        fail("the chart by authority shows %r, expected ['3']" % totals)
    if not drv.find_elements(By.CSS_SELECTOR, "#chart-answer svg rect"):
        fail("no time-to-answer bars although a task was answered")
    drv.save_screenshot(os.path.join(SHOTS, "desk-stats.png"))
    language(drv, "A day's statistics")
    if "Tasks received" not in drv.find_element(By.CSS_SELECTOR, ".totals").text or \
            drv.find_element(By.ID, "n-requests").text != "3":
        fail("the statistics in English: " + drv.find_element(By.CSS_SELECTOR, ".totals").text)
    # Another day, picked in the date picker: nothing.
    drv.execute_script("document.getElementById('date').value = arguments[0];",
                       time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400)))
    drv.find_element(By.CSS_SELECTOR, '#day button[type="submit"]').click()
    wait_for(drv, lambda d: d.find_element(By.ID, "n-requests").text == "0" and
             not d.find_elements(By.CSS_SELECTOR, "#by-authority tbody tr"),
             "yesterday's statistics are not empty")


def refused_session(name, home, expect):
    drv = browser(home, name)
    try:
        try:
            drv.get(DESK + "/")
        except WebDriverException:
            pass	# a refused handshake may surface as a load error
        time.sleep(0)
        text = drv.find_element(By.TAG_NAME, "body").text
        drv.save_screenshot(os.path.join(SHOTS, "refused-" + name + ".png"))
        if drv.find_elements(By.ID, "queue") or "Mesa de cumplimiento" in text:
            fail("the console opened for " + name)
        if expect and expect not in text:
            fail("%s: expected %r in the page, got %r" % (name, expect, text[:300]))
    finally:
        drv.quit()


operator_session()
refused_session("none", os.environ["HOME_NONE"], None)
refused_session("official", os.environ["HOME_FGR"], "forbidden")
print("desk-browser: console, live queue, approve, reject, request page, "
      "urgent-orders board, day's statistics, English, refusals: ok")
