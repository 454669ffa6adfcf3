"""The review page when the proof does not come or does not hold: a box whose deletion receipt
never reaches the workstation (the broker's ACL refuses it), a box that is gone, and a receipt
signed by another key than the one the workstation holds for that box. Real mosquitto, real box,
real `roomnote review`, Debian's chromium."""
from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys

import pytest

from mqtt_helpers import OFFICE, Broker, Pki, device_toml
from review_rig import SCREENSHOTS, ReviewServer, free_port, launch_browser, sandbox_env, toml_section
from test_publish_session import CANARY_TURNS, roomnote

sync_api = pytest.importorskip("playwright.sync_api")


@contextlib.contextmanager
def box_and_page(tmp_path, make_speech, *, receipts_allowed=True, key_of="room-a", wait_s=5.0):
    """Box room-a publishes one session; the workstation holds `key_of`'s public key as room-a's.
    Yields (page showing the note, the box process)."""
    wav = make_speech(CANARY_TURNS, "publish-canary")
    pki = Pki(tmp_path / "pki")
    broker = Broker(tmp_path / "broker", pki)
    if not receipts_allowed:
        acl = broker.dir / "acl"
        acl.write_text(acl.read_text().replace(f"pattern write roomnote/v1/{OFFICE}/%u/receipts\n", ""))
    broker.start()
    env = sandbox_env(tmp_path)
    keys = tmp_path / "device-keys"
    keys.mkdir()
    for device in sorted({"room-a", key_of}):
        cfg = device_toml(tmp_path / device, pki, broker.port, device, pki.issue(device))
        assert roomnote("keys", "init", "--config", str(cfg), env=env).returncode == 0
        if device == "room-a":
            box_cfg = cfg
    shutil.copy(tmp_path / key_of / "keys" / "signing.key.pub.pem", keys / "room-a.pub.pem")
    ws_cfg = device_toml(tmp_path / "ws", pki, broker.port, "ws", pki.issue("inbox-office1"))
    with open(ws_cfg, "a") as f:
        f.write(toml_section("review", {"inbox": str(tmp_path / "inbox"), "device_keys": str(keys),
                                        "answer_wait_s": wait_s, "receipt_wait_s": 3.0}))
    server = ReviewServer(ws_cfg, env, tmp_path / "review.log", free_port())
    box = subprocess.Popen([sys.executable, "-m", "roomnote", "process", str(wav), "--publish", "--serve",
                            "--wait", "2", "--config", str(box_cfg)], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    pw = sync_api.sync_playwright().start()
    browser = launch_browser(pw, tmp_path / "chromium-profile")
    try:
        page = browser.new_page()
        page.set_default_timeout(30_000)
        page.goto(server.url + "/")
        page.wait_for_selector("#note-rows tr a", timeout=180_000).click()
        page.wait_for_selector("#note")
        page.server_url = server.url
        yield page, box
    finally:
        browser.close()
        pw.stop()
        if box.poll() is None:
            box.kill()
            box.wait(10)
        server.stop()
        broker.stop()


def test_a_missing_receipt_and_a_silent_box_are_clear_warnings(tmp_path, make_speech):
    # 15 s for the box's answer: on a busy machine a live box can take longer than 5 s
    with box_and_page(tmp_path, make_speech, receipts_allowed=False, wait_s=15.0) as (page, box):
        page.once("dialog", lambda d: d.accept())
        page.click("#finalize")
        warn = page.wait_for_selector("#action-status.warn", timeout=30_000).inner_text()
        assert "did not arrive within 3 s" in warn and "no proof" in warn
        assert page.locator("#receipt").count() == 0 and page.inner_text("#note-status") == "New"
        page.screenshot(path=str(SCREENSHOTS / "review-no-receipt.png"), full_page=True)
        box.terminate()
        box.wait(30)
        page.fill("#instruction", "shorter")
        page.click("#revise-form button[type=submit]")
        warn = page.wait_for_selector("#action-status.warn", timeout=30_000).inner_text()
        assert "room-a did not answer within 15 s" in warn
        # finalise to a box that is gone: the page says it has not answered, never "not finalised"
        page.once("dialog", lambda d: d.accept())
        page.click("#finalize")
        warn = page.wait_for_selector("#action-status.warn >> text=has not answered", timeout=30_000).inner_text()
        assert "within 15 s" in warn and "appears here by itself" in warn and "not finalised" not in warn.lower()
        assert page.inner_text("#note-status") == "New" and page.locator("#finalize").is_enabled()


def test_a_receipt_that_does_not_verify_is_flagged_not_trusted(tmp_path, make_speech):
    """The workstation holds room-b's key for room-a (a box whose keys were rotated without
    telling the workstation, or an impostor): the receipt arrives, but the page must not say
    the transcript was destroyed."""
    with box_and_page(tmp_path, make_speech, key_of="room-b", wait_s=10.0) as (page, box):
        page.once("dialog", lambda d: d.accept())
        page.click("#finalize")
        text = page.wait_for_selector("#receipt.receipt-failed", timeout=30_000).inner_text()
        assert "does NOT verify" in text and "room-a" in text
        assert "verified" not in page.inner_text("#receipt-title").replace("NOT verify", "")
        # at the answer, or (a slow box) when the receipt came later: the status line is updated by
        # its own event, so it may follow the receipt panel by a moment
        page.wait_for_function("""() => { const t = document.querySelector('#action-status').innerText;
            return t.includes('see the warning') || t.includes('receipt arrived: Receipt not verified'); }""",
                               timeout=15_000)
        assert page.inner_text("#note-status") == "Receipt not verified"  # not "Finalised"
        page.screenshot(path=str(SCREENSHOTS / "review-receipt-fails.png"), full_page=True)
        note_url = page.url
        page.goto(page.server_url + "/")
        assert page.wait_for_selector("#note-rows .status-unverified").inner_text() == "Receipt not verified"
        fhir = page.request.get(note_url + "/note.fhir.json")
        assert fhir.ok and fhir.json()["docStatus"] == "preliminary"  # no proof, so not filed as final
