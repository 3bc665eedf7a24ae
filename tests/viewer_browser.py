#!/usr/bin/python3
"""The viewer's pages in a real browser (headless Chromium, through chromium-driver and Debian's
python3-selenium): each page and the index load without a console error; stepping with the keys
to "the nested NMI arrives" shows, slot by slot, the stack words the page's recording holds
there; the naive pages reach the overwrite report; the index shows two pages, and steps both.
Screenshots go to LOGS/viewer-*.png.

    /usr/bin/python3 tests/viewer_browser.py docs/viewer build/test-logs

Prints "ok WHAT" or "FAIL WHAT: why" per check; exits 1 when one failed."""
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

TREE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TREE, "tools"))
from viewer_page import read_recording  # noqa: E402

EVENT_KEYS_MAX = 60  # presses of the down arrow to reach an event, at most


def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,1000",
                     "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def console_errors(driver):
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def words_at(recording, index):
    """The stack words a step shows, from the recording's changes up to it."""
    words = {}
    for step in recording["steps"][: index + 1]:
        words.update(step["words"])
    return [words[str(slot)].rjust(16, "0") for slot in range(len(words))]


def step_to_event(driver, key):
    """Down arrow until the page shows an event `key`; the step it is at, or None."""
    body = driver.find_element(By.TAG_NAME, "body")
    for _ in range(EVENT_KEYS_MAX):
        shown = driver.find_elements(By.CSS_SELECTOR, f'#events-now div[data-key="{key}"]')
        if shown:
            return int(body.get_attribute("data-step")) - 1
        body.send_keys(Keys.ARROW_DOWN)
    return None


def check_page(driver, path, logs):
    """Problems with one recording's page (an empty list: none)."""
    name = os.path.basename(path)[: -len(".html")]
    recording = read_recording(path)
    driver.get("file://" + os.path.abspath(path))
    problems = [f"console: {message}" for message in console_errors(driver)]
    nested = next(
        i for i, s in enumerate(recording["steps"]) if "nmi-2" in [k for k, _ in s["events"]]
    )
    at = step_to_event(driver, "nmi-2")
    if at != nested:
        return problems + [f"the down arrow never reached 'the nested NMI arrives' ({nested + 1})"]
    if not driver.current_url.endswith(f"#step={nested + 1}"):
        problems.append(f"the URL does not name step {nested + 1}: {driver.current_url}")
    shown = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#slots td.value")]
    expected = words_at(recording, nested)
    wrong = [slot for slot, (a, b) in enumerate(zip(shown, expected)) if a != b]
    if len(shown) != len(expected) or wrong:
        problems.append(f"stack words shown differ from the recording at slots {wrong[:5]}")
    driver.save_screenshot(os.path.join(logs, f"viewer-{name}-nested-nmi.png"))
    if recording["strategy"] == "naive":
        if step_to_event(driver, "report") is None:
            problems.append("the naive page does not reach the overwrite report")
        elif "NMI frame overwritten by" not in driver.find_element(By.ID, "events-now").text:
            problems.append("the report's line is not shown")
        driver.save_screenshot(os.path.join(logs, f"viewer-{name}-report.png"))
    driver.get("file://" + os.path.abspath(path) + "#step=47")  # a teacher's link
    if driver.find_element(By.TAG_NAME, "body").get_attribute("data-step") != "47":
        problems.append("#step=47 does not open step 47")
    return problems + [f"console: {message}" for message in console_errors(driver)]


def check_index(driver, directory, logs):
    driver.get("file://" + os.path.abspath(os.path.join(directory, "index.html")))
    body = driver.find_element(By.TAG_NAME, "body")
    for _ in range(EVENT_KEYS_MAX):  # to the row where both strategies answer the nested NMI
        if "answer" in driver.find_element(By.ID, "shared").text:
            break
        body.send_keys(Keys.ARROW_DOWN)
    else:
        return ["the index never shows both pages at the nested NMI's answer"]
    problems = []
    for side in ("left", "right"):
        want = body.get_attribute(f"data-{side}")
        driver.switch_to.frame(driver.find_element(By.ID, side))
        shown = driver.find_element(By.TAG_NAME, "body").get_attribute("data-step")
        events = driver.find_element(By.ID, "events-now").text
        driver.switch_to.default_content()
        if shown != want:
            problems.append(f"the {side} page shows step {shown}, not {want}")
        if not events:
            problems.append(f"the {side} page shows no event at the shared 'answer' row")
    driver.save_screenshot(os.path.join(logs, "viewer-index.png"))
    return problems + [f"console: {message}" for message in console_errors(driver)]


def main():
    directory, logs = sys.argv[1], sys.argv[2]
    os.makedirs(logs, exist_ok=True)
    pages = sorted(p for p in os.listdir(directory) if p.endswith(".html") and p != "index.html")
    driver = browser()
    failed = False
    try:
        for page in pages + ["index.html"]:
            if page == "index.html":
                problems = check_index(driver, directory, logs)
            else:
                problems = check_page(driver, os.path.join(directory, page), logs)
            failed |= bool(problems)
            what = f"docs/viewer/{page} in Chromium"
            print(f"FAIL {what}: {'; '.join(problems)}" if problems else f"ok {what}", flush=True)
    finally:
        driver.quit()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
