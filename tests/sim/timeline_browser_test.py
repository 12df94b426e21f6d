#!/usr/bin/env python3
"""The page of `sluice-sim run --timeline` in headless Chromium: the script ran without an error
(body data-ready="ok"), one lane per host, messages drawn, the partition filter lists the
controller and every partition, the legend and class filter name every message class. Also: the
same seed gives the same trace_hash with and without --timeline, a failing run still writes its
page (and exits 1) with the failure listed, and an unwritable path is a usage error (exit 2).

The filters are checked through the view a link names (#partition=0&classes=raft, #t0=1&t1=2):
fewer messages and marks drawn, the partition's replicas' lanes highlighted.

Usage: timeline_browser_test.py SLUICE_SIM SOURCE_DIR
Exits 77 (skipped) when no Chromium is installed (tools/setup.sh installs it); SLUICE_CHROMIUM
names another binary.
"""
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SCENARIO = "tests/sim/timeline-cluster-small.toml"
SKIPPED = 77
failures = []


def check(condition, what, detail=""):
    if not condition:
        failures.append(what + (f"\n  {detail}" if detail else ""))


def chromium():
    named = os.environ.get("SLUICE_CHROMIUM")
    if named:
        return shutil.which(named)
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


class Dom(html.parser.HTMLParser):
    """The elements of a dumped DOM: (tag, attrs) in document order, and the text of <li>s."""

    def __init__(self):
        super().__init__()
        self.elements = []
        self.items = []
        self._in_li = False

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag == "li":
            self._in_li = True
            self.items.append("")

    def handle_endtag(self, tag):
        if tag == "li":
            self._in_li = False

    def handle_data(self, data):
        if self._in_li:
            self.items[-1] += data

    def find(self, tag=None, **attrs):
        return [a for t, a in self.elements if (tag is None or t == tag) and all(a.get(k) == v for k, v in attrs.items())]


def run_sim(sim, source, args):
    return subprocess.run([sim, "run", *args], cwd=source, capture_output=True, text=True, timeout=300)


def figure(stdout, key):
    match = re.search(rf"^{key}=(.*)$", stdout, re.M)
    return match.group(1) if match else None


def dump_dom(browser, page, profile, fragment=""):
    result = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             f"--user-data-dir={profile}", "--window-size=1400,600", "--dump-dom",
                             "file://" + os.path.abspath(page) + fragment],
                            capture_output=True, text=True, timeout=180)
    check(result.returncode == 0, "chromium --dump-dom exits 0", result.stderr[-2000:])
    dom = Dom()
    dom.feed(result.stdout)
    return dom


def check_page(dom, lanes_expected, passed):
    body = dom.find("body")
    check(len(body) == 1, "one body")
    body = body[0] if body else {}
    check(body.get("data-ready") == "ok", "the page's script ran to its end", f"data-ready={body.get('data-ready')!r}")
    check(body.get("data-lanes") == str(lanes_expected), f"data-lanes is {lanes_expected}", f"{body.get('data-lanes')!r}")
    lanes = [a for t, a in dom.elements if t == "div" and "lane" in a.get("class", "").split()]
    check(len(lanes) == lanes_expected, f"{lanes_expected} .lane elements", f"got {len(lanes)}")
    check([a.get("data-host") for a in lanes] == [f"n{i + 1}" for i in range(lanes_expected)], "lanes n1..n7 in order")
    check(sum("client" in a.get("class", "") for a in lanes) == 2, "two client-host lanes")
    drawn = int(body.get("data-messages-drawn", "0"))
    check(drawn > 0 and drawn == int(body.get("data-messages-kept", "-1")), "every kept message drawn at the whole-run view",
          f"drawn={drawn} kept={body.get('data-messages-kept')}")
    check(int(body.get("data-marks-drawn", "0")) > 0, "marks drawn")
    options = [a.get("value") for t, a in dom.elements if t == "option"]
    check(options[:5] == ["all", "controller", "0", "1", "2"], "partition filter: all, controller, partitions 0-2", f"{options}")
    check(len(dom.find("select", id="partition-filter")) == 1, "#partition-filter")
    classes = [a.get("data-class") for t, a in dom.elements if t == "input" and a.get("data-class")]
    check(classes == ["swim", "raft", "rpc", "http", "other"], "a checkbox per message class", f"{classes}")
    legend = [a.get("data-class") for t, a in dom.elements if t == "span" and a.get("data-class")]
    check(set(classes) <= set(legend), "the legend names every class", f"{legend}")
    check(len(dom.find("canvas", id="chart")) == 1, "#chart canvas")
    violations = [item for item in dom.items if item]
    check(passed == (not violations), "violations listed only for a failed run", f"{violations}")
    return violations


def page_data(page):
    with open(page) as f:
        text = f.read()
    match = re.search(r'<script type="application/json" id="timeline-data">(.*?)</script>', text, re.S)
    return json.loads(match.group(1)) if match else {}


def body_numbers(dom):
    body = (dom.find("body") or [{}])[0]
    return {key: int(body.get(f"data-{key}", "-1")) for key in ("messages-drawn", "marks-drawn", "messages-kept")}, body


def check_filters(browser, page, profile, whole):
    """The partition and class filters and the zoom, set by the link's fragment."""
    data = page_data(page)
    check(data.get("messages", {}).get("sample_every") == 1, "the small run keeps every message")
    dom = dump_dom(browser, page, profile, "#partition=0&classes=raft")
    numbers, body = body_numbers(dom)
    check(body.get("data-ready") == "ok" and body.get("data-partition") == "0", "partition 0 selected by the link", f"{body}")
    raft = data.get("messages", {}).get("seen_by_class", {}).get("raft")
    check(numbers["messages-drawn"] == raft, "only raft messages drawn", f"{numbers} raft={raft}")
    check(0 < numbers["marks-drawn"] < whole["marks-drawn"], "fewer marks for one partition", f"{numbers} {whole}")
    hosting = [a for t, a in dom.elements if t == "div" and "hosting" in a.get("class", "").split()]
    check(3 <= len(hosting) <= 5, "the lanes of partition 0's replicas are highlighted", f"{len(hosting)}")
    check(all(a.get("data-host") in {f"n{i}" for i in range(1, 6)} for a in hosting), "only node lanes host a partition")
    numbers, body = body_numbers(dump_dom(browser, page, profile, "#t0=1&t1=2&kinds=role"))
    check(0 < numbers["messages-drawn"] < whole["messages-drawn"], "zoomed to 1-2 s: fewer messages", f"{numbers}")
    check(0 < numbers["marks-drawn"] < whole["marks-drawn"], "zoomed, roles only: fewer marks", f"{numbers}")


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    sim, source = sys.argv[1], sys.argv[2]
    browser = chromium()
    if browser is None:
        print("skipped: no chromium (tools/setup.sh installs it)")
        return SKIPPED
    with tempfile.TemporaryDirectory() as temp:
        page = os.path.join(temp, "timeline.html")
        plain = run_sim(sim, source, ["--scenario", SCENARIO, "--seed", "1"])
        recorded = run_sim(sim, source, ["--scenario", SCENARIO, "--seed", "1", "--timeline", page])
        check(recorded.returncode == 0, "the run passes", recorded.stderr[-2000:])
        check(figure(plain.stdout, "trace_hash") == figure(recorded.stdout, "trace_hash") is not None,
              "same trace_hash with and without --timeline")
        check(os.path.getsize(page) > 0, "the page is written")
        dom = dump_dom(browser, page, os.path.join(temp, "profile"))
        check_page(dom, 7, True)
        check_filters(browser, page, os.path.join(temp, "profile"), body_numbers(dom)[0])

        # A failing run (an events budget it cannot keep) writes its page too, then exits 1.
        failing_scenario = os.path.join(temp, "failing.toml")
        with open(os.path.join(source, SCENARIO)) as original:
            text = re.sub(r"^events_max = \d+$", "events_max = 20000", original.read(), flags=re.M)
        with open(failing_scenario, "w") as out:
            out.write(text)
        failing_page = os.path.join(temp, "failing.html")
        failed = run_sim(sim, source, ["--scenario", failing_scenario, "--seed", "1", "--timeline", failing_page])
        check(failed.returncode == 1, "the failing run exits 1", failed.stderr[-2000:])
        check(os.path.exists(failing_page), "the failing run writes its page")
        if os.path.exists(failing_page):
            violations = check_page(dump_dom(browser, failing_page, os.path.join(temp, "profile")), 7, False)
            check(any("budget: more than events_max" in v for v in violations), "the failure is listed", f"{violations}")

        unwritable = run_sim(sim, source, ["--scenario", SCENARIO, "--seed", "1", "--timeline", os.path.join(temp, "no", "x.html")])
        check(unwritable.returncode == 2 and "--timeline: cannot write" in unwritable.stderr,
              "an unwritable --timeline path is a usage error (exit 2)", unwritable.stderr)
    for failure in failures:
        print("FAIL:", failure)
    print(f"timeline browser test: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
