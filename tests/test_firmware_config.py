"""firmware-config checked by the tools that read it: bash -n and shellcheck for the scripts,
systemd-analyze for the first-boot unit, udev's own rules parser (udevadm test, with the rules
bind-mounted over /etc/udev/rules.d in a private mount namespace; Debian 12's udev 252 has no
`udevadm verify`), alsa-lib for asound.conf, and the office example through `roomnote provision`
(tests/test_provision.py)."""
from __future__ import annotations

import grp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

FW = REPO / "firmware-config"
SCRIPTS = [FW / "firstboot.sh", FW / "jetson" / "power.sh"]
RULES = FW / "raspberry-pi" / "99-roomnote.rules"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_parse_and_pass_shellcheck(script):
    r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["shellcheck", "-x", "--severity=style", str(script.relative_to(FW))], cwd=FW,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_shellcheck_would_catch_a_mistake(tmp_path):
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/bash\nrm -rf $DIR/*\n")
    r = subprocess.run(["shellcheck", str(bad)], capture_output=True, text=True)
    assert r.returncode != 0 and "SC2086" in r.stdout


def test_firstboot_without_an_office_file_stops_with_one_line(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("firstboot.sh runs as root")
    r = subprocess.run(["bash", str(FW / "firstboot.sh"), str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip() == (f"roomnote-firstboot: FAILED: no office file at {tmp_path}/office.toml; copy this "
                                "box's office file there")


def test_jetson_power_mode_leaves_other_boards_alone():
    r = subprocess.run(["bash", str(FW / "jetson" / "power.sh")], capture_output=True, text=True,
                       env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0 and "nvpmodel not found; not a Jetson" in r.stderr


def test_firstboot_unit_verifies(tmp_path):
    # verify checks that ExecStart exists: point it at the script as installed here
    unit = tmp_path / "roomnote-firstboot.service"
    text = (FW / "roomnote-firstboot.service").read_text()
    assert "ExecStart=/usr/local/sbin/roomnote-firstboot " in text
    assert os.access(FW / "firstboot.sh", os.X_OK)  # installed with its mode (install -m 0755)
    unit.write_text(text.replace("/usr/local/sbin/roomnote-firstboot", str(FW / "firstboot.sh")))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


def udev_parse(rules: Path, tmp_path: Path) -> list[str]:
    """What udev's rules parser says about `rules` (lines naming the file)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root to bind-mount the rules over /etc/udev/rules.d in a private mount namespace")
    d = tmp_path / "rules.d"
    d.mkdir()
    shutil.copy(rules, d / rules.name)
    script = f"mount --bind {d} /etc/udev/rules.d && udevadm test /sys/class/net/lo"
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert f"Reading rules file: /etc/udev/rules.d/{rules.name}" in out, out[-2000:]
    return [line for line in out.splitlines() if line.startswith(f"/etc/udev/rules.d/{rules.name}:")]


def test_udev_rules_parse_clean(tmp_path):
    problems = udev_parse(RULES, tmp_path)
    # groups that do not exist on the test machine (gpio, on a non-Pi) are the only allowance
    missing = [g for g in ("gpio", "audio") if not _group_exists(g)]
    problems = [p for p in problems if not any(f"Unknown group '{g}'" in p for g in missing)]
    assert problems == []


def test_udev_check_catches_a_broken_rule(tmp_path):
    bad = tmp_path / "98-broken.rules"
    bad.write_text(RULES.read_text() + 'SUBSYSTEM=="sound", GRUOP="audio"\nKERNEL=="gpiomem", MODE=="0660\n')
    problems = udev_parse(bad, tmp_path)
    assert any("Invalid key 'GRUOP'" in p for p in problems), problems
    assert any("Invalid key/value pair" in p for p in problems), problems


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def test_asound_conf_records_through_roomnote_mic(tmp_path):
    """alsa-lib reads the file and PortAudio records through its roomnote_mic and default PCMs.
    The test machine has no sound card, so the card the udev rule names (hw:CARD=roomnotemic)
    is replaced by the room microphone (roommic.py, ALSA's file plugin); the rest is as shipped."""
    from roommic import NAME, RoomMicrophone

    room = RoomMicrophone(tmp_path / "room")
    try:
        shipped = (FW / "raspberry-pi" / "asound.conf").read_text()
        assert '"hw:CARD=roomnotemic,DEV=0"' in shipped
        text = shipped.replace('"hw:CARD=roomnotemic,DEV=0"', f'"{NAME}"')
        text = text.replace("ctl.!default {\n    type hw\n    card roomnotemic\n}", "")
        conf = tmp_path / "asound.conf"
        conf.write_text(room.config.read_text() + "\n" + text)
        code = """
import pyaudio
pa = pyaudio.PyAudio()
names = [pa.get_device_info_by_index(i)["name"] for i in range(pa.get_device_count())]
index = names.index("roomnote_mic")
s = pa.open(format=pyaudio.paInt16, channels=1, rate=16000, input=True, input_device_index=index,
            frames_per_buffer=512)
data = s.read(512 * 10)
s.close()
print(sorted(names), pa.get_default_input_device_info()["name"], len(data))
pa.terminate()
"""
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "ALSA_CONFIG_PATH": str(conf)}, timeout=60)
    finally:
        room.close()
    assert r.returncode == 0, r.stderr[-2000:]
    assert "'roomnote_mic'" in r.stdout and r.stdout.split()[-2:] == ["default", str(512 * 10 * 2)], r.stdout


def test_config_txt_sets_the_office_examples_pins():
    text = (FW / "raspberry-pi" / "config.txt").read_text()
    office = (FW / "office.example.toml").read_text()
    assert "button_pin = 17" in office and "led_pin = 27" in office
    assert "gpio=17=ip,pu" in text and "gpio=27=op,dl" in text


def test_cloud_init_user_data_runs_the_first_boot_script_once():
    import yaml

    text = (FW / "raspberry-pi" / "user-data").read_text()
    assert text.startswith("#cloud-config\n")  # cloud-init ignores user-data without this line
    data = yaml.safe_load(text)
    assert data["runcmd"] == [["bash", "/boot/firmware/roomnote/firstboot.sh", "/boot/firmware/roomnote"]]
    assert data["ntp"]["enabled"] is True  # the clock check and TLS need the time
