"""The unit, checked by systemd's own tools: verify, the offline security score, sysusers."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO

UNIT = REPO / "systemd" / "roomnote.service"
SYSUSERS = REPO / "systemd" / "roomnote.sysusers"


def test_unit_verifies_clean(tmp_path):
    # verify checks that ExecStart exists: point it at this checkout's installed roomnote
    # instead of /opt/roomnote/bin/roomnote; every other line is verified as shipped
    roomnote = Path(sys.executable).parent / "roomnote"
    text = UNIT.read_text()
    assert "ExecStart=/opt/roomnote/bin/roomnote run " in text
    unit = tmp_path / "roomnote.service"
    unit.write_text(text.replace("/opt/roomnote/bin/roomnote", str(roomnote)))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


def test_unit_security_exposure_is_at_most_2():
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", str(UNIT)], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for roomnote.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout


def test_unit_keeps_audio_off_swap_and_talks_to_systemd():
    lines = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in UNIT.read_text().splitlines()
             if "=" in line and not line.startswith("#")}
    assert lines["Type"] == "notify" and lines["MemorySwapMax"] == "0"
    assert lines["StateDirectory"] == lines["RuntimeDirectory"] == "roomnote"
    assert int(lines["WatchdogSec"]) > 0 and int(lines["TimeoutStopSec"]) > 0
    assert lines["User"] == "roomnote" and lines["SupplementaryGroups"] == "audio gpio"


def test_sysusers_creates_the_user_in_audio_and_gpio(tmp_path):
    (tmp_path / "etc").mkdir()
    r = subprocess.run(["systemd-sysusers", f"--root={tmp_path}", "-"], input=SYSUSERS.read_text(),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    passwd = (tmp_path / "etc/passwd").read_text()
    assert re.search(r"^roomnote:x:\d+:\d+:[^:]*:/var/lib/roomnote:/usr/sbin/nologin$", passwd, re.M)
    groups = {line.split(":")[0]: line.split(":")[3] for line in (tmp_path / "etc/group").read_text().splitlines()}
    assert "roomnote" in groups["audio"].split(",") and "roomnote" in groups["gpio"].split(",")
