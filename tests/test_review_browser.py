"""The review page end to end, in a real browser, as a new practice would run it: `roomnote practice
init` (CA, broker, workstation), `roomnote provision` of a box, `practice sign-box`, the real
mosquitto on the written configuration, a real box (`roomnote process --publish --serve` on a
flite-synthesised session, with the provisioned configuration) and the real `roomnote review` on
the written workstation.toml; no hand-written certificate. Debian's chromium driven by Playwright. The note appears without a reload, the format switch and a revision
round-trip with the changes highlighted, a refusal is shown as one, the therapist's own version is
kept beside the box's, copy for EHR puts the plain text on the clipboard, the downloads are the
note's Markdown and FHIR, and finalise shows the verified deletion receipt."""
from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import sys

import pytest

from review_rig import CONTRAST_JS, SCREENSHOTS, PracticeNetwork, ReviewServer, free_port, launch_browser, sandbox_env
from test_publish_session import CANARY_TURNS, CANARY_WORDS

sync_api = pytest.importorskip("playwright.sync_api")

NOTE_WORDS = ["anxious", "homework", "worried", "mornings"]  # said in the session, so in the note


@pytest.fixture(scope="module")
def rig(tmp_path_factory, make_speech):
    root = tmp_path_factory.mktemp("review")
    wav = make_speech(CANARY_TURNS, "publish-canary")
    env = sandbox_env(root)
    net = PracticeNetwork(root, env)  # practice init, mosquitto, provision, sign-box, provision --cert
    box_cfg, inbox = net.box_cfg, net.inbox
    server = ReviewServer(net.workstation(answer_wait_s=60.0, receipt_wait_s=30.0), env, root / "review.log", free_port())
    pw = sync_api.sync_playwright().start()
    browser = launch_browser(pw, root / "chromium-profile")
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = browser.new_page()
    page.set_default_timeout(30_000)
    state = {"root": root, "wav": wav, "net": net, "env": env, "box_cfg": box_cfg, "inbox": inbox,
             "server": server, "page": page, "box": None, "errors": []}
    page.on("pageerror", lambda e: state["errors"].append(str(e)))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield state
    finally:
        browser.close()
        pw.stop()
        box = state["box"]
        if box is not None and box.poll() is None:
            box.terminate()
            box.wait(15)
        server.stop()
        net.stop_broker()
        shutil.copy(server.log, SCREENSHOTS / "review-e2e.log")  # to read after a failure (ids only)


def note_json(rig, version: int | None = None) -> dict:
    files = sorted(rig["inbox"].glob(f"{rig['note_id']}.v*.json"), key=lambda p: int(p.name.split(".v")[1][:-5]))
    chosen = files[-1] if version is None else rig["inbox"] / f"{rig['note_id']}.v{version}.json"
    return json.loads(chosen.read_text())


def test_a_note_appears_on_the_list_without_a_reload(rig):
    page = rig["page"]
    page.goto(rig["server"].url + "/")
    assert page.locator("#empty").is_visible()
    page.wait_for_selector("#live.on")  # the event stream is open
    page.evaluate("window.__sameDocument = 'yes'")
    rig["box"] = subprocess.Popen([sys.executable, "-m", "roomnote", "process", str(rig["wav"]), "--publish",
                                   "--serve", "--config", str(rig["box_cfg"])], env=rig["env"], cwd=rig["root"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    row = page.wait_for_selector("#note-rows tr", timeout=180_000)
    assert page.evaluate("window.__sameDocument") == "yes"  # no reload happened
    rig["note_id"] = row.get_attribute("data-note-id")
    assert re.fullmatch(r"[0-9a-f]{32}", rig["note_id"])
    text = row.inner_text()
    assert "north" in text and "room-a" in text and "SOAP" in text and "New" in text and "v1" in text
    assert not page.locator("#empty").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "review-list.png"), full_page=True)
    assert page.evaluate(CONTRAST_JS) == []  # readable contrast (WCAG AA)


def test_the_list_works_from_the_keyboard(rig):
    page = rig["page"]
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"  # first stop: skip to content
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"  # visible focus
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('#note-rows') !== null"):
            break
    assert page.evaluate("document.activeElement.getAttribute('href')") == f"/notes/{rig['note_id']}"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("Enter")
    page.wait_for_selector("#note")
    page.go_back()
    page.wait_for_selector("#note-rows tr")


def test_the_note_view_shows_sections_evidence_redactions_consent_and_facts(rig):
    page = rig["page"]
    page.click(f'#note-rows tr[data-note-id="{rig["note_id"]}"] a')
    page.wait_for_selector("#note")
    page.evaluate("window.__sameDocument = 'note'")  # actions below update the page in place
    d = note_json(rig, 1)
    assert page.inner_text("#note-title").startswith("SOAP note")
    for s in d["sections"]:
        assert page.locator(f"#sec-{s['key']}").inner_text() == s["title"]
    chips = page.locator(".ev:not([hidden])").all_inner_texts()
    assert chips and all(re.fullmatch(r"\d\d:\d\d:\d\d\u2013\d\d:\d\d:\d\d|\+\d+ more", c) for c in chips)
    side = page.inner_text(".note-side")
    for kind, n in d["redaction_counts"].items():
        assert re.search(rf"{kind}\s+{n}", side), (kind, side)
    assert "Consent" in side and (d["session"]["consent"] or "Not recorded") in side
    assert "room-a" in side and d["session"]["engine"] in side
    page.screenshot(path=str(SCREENSHOTS / "review-note.png"), full_page=True)
    assert page.evaluate(CONTRAST_JS) == []
    labels = page.evaluate("Array.from(document.querySelectorAll('textarea')).map(t => t.labels.length)")
    assert labels and all(n == 1 for n in labels)  # every text box has its label


def test_evidence_is_a_focusable_control_that_shows_the_cited_words(rig):
    page = rig["page"]
    d = note_json(rig, 1)
    first = page.locator("button.ev").first
    first.focus()  # a real control: reachable from the keyboard, opened with Enter
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    page.keyboard.press("Enter")
    assert first.get_attribute("aria-expanded") == "true"
    panel = page.locator("#" + first.get_attribute("aria-controls"))
    assert panel.is_visible() and "segment" in panel.inner_text()
    page.keyboard.press("Enter")
    assert not panel.is_visible()
    # a line that is not itself a quote shows the note's own quoted words of its passage
    quotes = {e["segment_id"]: it["text"] for s in d["sections"] for it in s["items"]
              if it["kind"] in ("quote", "response") for e in it["evidence"]}
    for si, s in enumerate(d["sections"]):
        for ii, it in enumerate(s["items"]):
            for ei, e in enumerate(it["evidence"]):
                if it["kind"] not in ("quote", "response", "risk", "goal", "plan") and e["segment_id"] in quotes:
                    page.locator(f'button[aria-controls="ev-{s["key"]}-{ii + 1}-{ei + 1}"]').click()
                    words = page.locator(f'#ev-{s["key"]}-{ii + 1}-{ei + 1} blockquote').all_inner_texts()
                    assert quotes[e["segment_id"]] in words
                    page.screenshot(path=str(SCREENSHOTS / "review-evidence.png"), full_page=True)
                    return
    pytest.fail("no line of the note cites a quoted passage; the session should give one")


def test_an_instruction_the_box_cannot_act_on_is_shown_as_refused(rig):
    page = rig["page"]
    page.fill("#instruction", "make it sound nicer")
    page.click("#revise-form button[type=submit]")
    status = page.wait_for_selector("#action-status.refused")
    assert "did not understand" in status.inner_text()
    page.fill("#instruction", "include more details about the football match")
    page.click("#revise-form button[type=submit]")
    page.wait_for_selector("#action-status.refused >> text=cannot find that in the session")
    assert {p.name for p in rig["inbox"].glob("*.json")} == {f"{rig['note_id']}.v1.json", "devices.json"}


def test_the_format_switch_rerenders_on_the_box(rig):
    page = rig["page"]
    page.click('button[data-format="dap"]')
    page.wait_for_selector("#action-status.ok")
    assert page.inner_text("#note-title").startswith("DAP note")
    assert page.get_attribute('button[data-format="dap"]', "aria-pressed") == "true"
    assert note_json(rig)["format"] == "dap" and note_json(rig)["version"] == 2
    assert "Format SOAP \u2192 DAP" in page.inner_text(".changes")
    assert page.evaluate("window.__sameDocument") == "note"  # no reload


def test_a_revision_round_trips_with_the_changes_highlighted(rig):
    page = rig["page"]
    page.fill("#instruction", "remove the part about homework")
    page.click("#revise-form button[type=submit]")
    page.wait_for_selector("#action-status.ok")
    v3 = note_json(rig)
    assert v3["version"] == 3
    assert "Version 3" in page.inner_text("#note .meta")
    changes = page.inner_text(".changes")
    assert "Changes from version 2" in changes and re.search(r"[1-9]\d* removed", changes)
    page.click(".changes summary")
    removed = page.locator(".changes ul.removed del").all_inner_texts()
    assert removed and all("homework" in r.lower() for r in removed)
    page.screenshot(path=str(SCREENSHOTS / "review-revision.png"), full_page=True)
    assert page.evaluate(CONTRAST_JS) == []  # highlighted words stay readable
    # the word diff itself (difflib), on the page's own item markup
    page.goto(f"{rig['server'].url}/notes/{rig['note_id']}?v=2")
    assert "an older version" in page.inner_text("#note .meta")
    page.go_back()
    history = page.inner_text(".revisions")  # says what was asked, as typed here (kept on the workstation)
    assert "v2: format changed to DAP" in history
    assert "v3: a part removed: \u201cremove the part about homework\u201d" in history


def test_a_label_tells_sessions_apart_on_the_list(rig):
    page = rig["page"]
    page.fill("#label-text", "couple, 10:00")
    page.click("#label-form button[type=submit]")
    page.wait_for_selector("#action-status.ok >> text=on this computer only")
    row = rig["page"].context.new_page()
    row.goto(rig["server"].url + "/")
    tr = row.locator(f'#note-rows tr[data-note-id="{rig["note_id"]}"]')
    text = tr.inner_text()
    d = note_json(rig)
    theme = next((it["text"].removeprefix("Theme:").strip() for s in d["sections"] for it in s["items"]
                  if it["kind"] == "theme"), "")
    assert "couple, 10:00" in text and theme in text and re.search(r"\b(under 1 min|\d+ min)\b", text), text
    local = json.loads((rig["inbox"] / "local" / f"{rig['note_id']}.json").read_text())
    assert local["label"] == "couple, 10:00"  # on the workstation; nothing was sent to the box
    row.close()


def test_the_list_and_the_note_fit_a_phone(rig):
    """390 px wide: nothing cut off or spilling out (Version, Status, the format buttons)."""
    phone = rig["page"].context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(rig["server"].url + "/")
    phone.wait_for_selector("#note-rows tr")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    for col in ("Version", "Status", "Length"):
        box = phone.locator(f'#note-rows tr td[data-col="{col}"]').first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (col, box)
    phone.screenshot(path=str(SCREENSHOTS / "review-list-390.png"), full_page=True)
    assert phone.evaluate(CONTRAST_JS) == []
    phone.goto(f"{rig['server'].url}/notes/{rig['note_id']}")
    phone.wait_for_selector("#note")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    for b in phone.locator("[data-action=format], .actions > *").all():
        box = b.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    phone.screenshot(path=str(SCREENSHOTS / "review-note-390.png"), full_page=True)
    phone.close()


def test_the_therapists_own_version_is_kept_beside_the_boxs(rig):
    page = rig["page"]
    box_bytes = {p.name: p.read_bytes() for p in rig["inbox"].glob("*.v*.json")}
    mine = "DAP PSYCHOTHERAPY NOTE\nClient engaged well; reviewed the plan together.\n"
    page.fill("#edit-text", mine)
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#action-status.ok >> text=The box's version is unchanged")
    page.reload()
    assert page.input_value("#edit-text") == mine
    saved = json.loads((rig["inbox"] / "edits" / f"{rig['note_id']}.json").read_text())
    assert saved["text"] == mine and saved["based_on_version"] == 3
    assert {p.name: p.read_bytes() for p in rig["inbox"].glob("*.v*.json")} == box_bytes


def test_copy_for_ehr_puts_the_plain_text_on_the_clipboard(rig):
    from roomnote.notes.render import from_dict, to_text

    page = rig["page"]
    page.click("#copy-ehr")
    page.wait_for_selector("#action-status.ok >> text=copied")
    clip = page.evaluate("navigator.clipboard.readText()")
    assert clip == to_text(from_dict(note_json(rig)))
    assert clip.startswith("DAP PSYCHOTHERAPY NOTE")


def test_downloads_are_the_notes_markdown_and_fhir(rig):
    from roomnote.notes.render import from_dict, to_markdown

    page = rig["page"]
    note = from_dict(note_json(rig))
    with page.expect_download() as dl:
        page.click("a.button:text('Markdown')")
    assert dl.value.suggested_filename.endswith("-v3.md")
    assert open(dl.value.path(), encoding="utf-8").read() == to_markdown(note)
    with page.expect_download() as dl:
        page.click("a.button:text('FHIR R4')")
    doc = json.loads(open(dl.value.path(), encoding="utf-8").read())
    assert doc["resourceType"] == "DocumentReference" and doc["id"] == f"{rig['note_id']}-v3"
    assert doc["docStatus"] == "preliminary"


def test_finalise_shows_the_verified_deletion_receipt(rig):
    page = rig["page"]
    listing = page.context.new_page()  # a second tab on the list: the status changes there live
    listing.goto(rig["server"].url + "/")
    listing.wait_for_selector("#live.on")
    listing.evaluate("window.__sameDocument = 'list'")
    page.once("dialog", lambda d: d.accept())
    with page.expect_response(lambda r: r.url.endswith("/finalize")) as answered:
        page.click("#finalize")
    assert answered.value.status == 202  # answered at once; the receipt comes on the live stream
    assert "waiting" in page.inner_text("#action-status")
    receipt = page.wait_for_selector("#receipt.receipt-verified", timeout=60_000)
    text = receipt.inner_text()
    assert "signed receipt verified" in text and "Signature verified with room-a's key" in text
    assert "finalized" in text and "redacted_transcript" in text
    assert page.inner_text("#note-status") == "Finalised"
    assert page.locator("#finalize").count() == 0 and page.locator("#revise-form").count() == 0
    assert page.locator("[data-action=format]").count() == 0 and "cannot be re-rendered" in page.inner_text(".toolbar")
    page.screenshot(path=str(SCREENSHOTS / "review-finalised.png"), full_page=True)
    out, err = rig["box"].communicate(timeout=30)  # --serve ends once the note is finalised
    assert rig["box"].returncode == 0, err
    with page.expect_download() as dl:
        page.click("a.button:text('FHIR R4')")
    assert json.loads(open(dl.value.path(), encoding="utf-8").read())["docStatus"] == "final"
    row = listing.locator(f'#note-rows tr[data-note-id="{rig["note_id"]}"]')
    row.locator(".status-finalised").wait_for()
    assert "your edit" in row.inner_text() and "v3" in row.inner_text()
    assert listing.evaluate("window.__sameDocument") == "list"  # updated in place
    listing.close()


def test_a_later_session_goes_on_top_and_a_stopped_box_marks_its_note_expired(rig, make_speech):
    page = rig["page"]
    page.goto(rig["server"].url + "/")
    page.wait_for_selector("#live.on")
    wav = make_speech([("rms", "How did the week go?"),
                       ("slt", "I slept better and I went for a walk every morning.")], "review-second")
    box = subprocess.Popen([sys.executable, "-m", "roomnote", "process", str(wav), "--publish", "--serve",
                            "--wait", "5", "--config", str(rig["box_cfg"])], env=rig["env"], cwd=rig["root"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        rows = page.locator("#note-rows tr")
        rows.nth(1).wait_for(timeout=180_000)
        second = rows.nth(0).get_attribute("data-note-id")
        assert second != rig["note_id"] and rows.nth(1).get_attribute("data-note-id") == rig["note_id"]
        assert "New" in rows.nth(0).inner_text()
    finally:
        box.terminate()  # the box stops: it destroys the held transcript and says so in a receipt
        _, err = box.communicate(timeout=30)
    assert box.returncode == 0, err
    page.locator(f'#note-rows tr[data-note-id="{second}"] .status-expired').wait_for()


def test_live_is_the_brokers_connection_not_the_pages(rig):
    page = rig["page"]
    page.goto(rig["server"].url + "/")
    page.wait_for_selector("#live.on")
    assert "room-a" in page.inner_text("#boxes")  # the box's last heartbeat (or its last will)
    rig["net"].stop_broker()
    assert page.wait_for_selector("#live.off", timeout=30_000).inner_text() == "Broker not reachable"
    rig["net"].start_broker()
    page.wait_for_selector("#live.on", timeout=30_000)


def test_no_page_errors_and_no_note_text_in_the_log(rig):
    assert rig["errors"] == []
    code = rig["server"].stop()
    assert code == 0
    log = rig["server"].log.read_text().lower()
    assert "get /notes/" in log and "post /notes/" in log  # it does log requests ...
    for word in CANARY_WORDS + NOTE_WORDS + ["football", "nicer", "engaged"]:
        assert word not in log, word  # ... but never a word of a note or an instruction


def test_the_inbox_is_private_to_the_user(rig):
    inbox = rig["inbox"]
    for d in [inbox, *[p for p in inbox.rglob("*") if p.is_dir()]]:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    files = [p for p in inbox.rglob("*") if p.is_file()]
    assert any(p.parent.name == "receipts" for p in files) and any(p.parent.name == "edits" for p in files)
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
