"""The review page in tests: the real `roomnote review` in a child process, and Debian's chromium
driven by Playwright (never a downloaded browser: executable_path is the Debian binary)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_section(name: str, values: dict) -> str:
    def v(x):
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, (int, float)):
            return repr(x)
        return '"' + str(x).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"[{name}]\n" + "".join(f"{k} = {v(x)}\n" for k, x in values.items())


class ReviewServer:
    """`python -m roomnote review` with its stderr in a file; stopped with SIGTERM."""

    def __init__(self, config: Path, env: dict, log: Path, port: int, *, scheme: str = "http", args=()):
        self.port, self.log, self.scheme = port, log, scheme
        self.url = f"{scheme}://127.0.0.1:{port}"
        self._err = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "roomnote", "review", "--config", str(config),
                                      "--port", str(port), *args], env=env, stdout=self._err, stderr=self._err)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"roomnote review exited: {log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("roomnote review did not start listening")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._err.close()
        return self.proc.returncode


def sandbox_env(root: Path) -> dict:
    from conftest import REPO
    dirs = {name: root / name for name in ("home", "tmp")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "PYTHONPATH": str(REPO / "daemon"), "HOME": str(dirs["home"]), "TMPDIR": str(dirs["tmp"]),
            "XDG_CACHE_HOME": str(dirs["home"])}


def launch_browser(playwright, user_data: Path, **context):
    """A persistent chromium context in a fresh user-data directory."""
    return playwright.chromium.launch_persistent_context(
        str(user_data), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 900}, **context)


# WCAG 2 contrast of every visible text element against the background it sits on (the first
# opaque background among its ancestors); disabled controls are exempt, as WCAG says.
CONTRAST_JS = """
() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const bgOf = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest("[disabled], [hidden]") || !el.getClientRects().length) continue;
    const st = getComputedStyle(el);
    if (st.visibility === "hidden") continue;
    const fg = rgb(st.color).slice(0, 3), bg = bgOf(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const large = parseFloat(st.fontSize) >= 24 || (parseFloat(st.fontSize) >= 18.66 && Number(st.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) bad.push(el.tagName + "." + el.className + " " + ratio.toFixed(2));
  }
  return bad;
}
"""


class PracticeNetwork:
    """A practice set up as IT would, with no hand-written certificate: `roomnote practice init`,
    mosquitto on the configuration it wrote, a box provisioned from an office file, its request
    signed by `roomnote practice sign-box`, and the certificate installed by `provision --cert`.

    The box is a folder here, so its provisioned configuration is used with its own paths
    (/etc/roomnote, /var/lib/roomnote) moved under that folder: `box_cfg`."""

    def __init__(self, root: Path, env: dict, office: str = "north", device: str = "room-a"):
        self.root, self.env, self.office, self.device = root, env, office, device
        self.dir, self.port = root / "practice", free_port()
        self._run("practice", "init", str(self.dir), "--office", office, "--broker-host", "127.0.0.1",
                  "--broker-port", str(self.port))
        extra = ["log_dest stderr", "log_type error", "log_type warning", "log_type notice"]
        if os.geteuid() == 0:
            extra.append("user root")  # else it drops to "mosquitto", who cannot read the practice's key files
        self.conf = root / "mosquitto.conf"
        self.conf.write_text((self.dir / "broker/mosquitto.conf").read_text() + "\n".join(extra) + "\n")
        self.broker_log = root / "broker.log"
        self.broker: subprocess.Popen | None = None
        self.start_broker()
        office_file = root / "office.toml"
        office_file.write_text(f'[office]\nid = "{office}"\ndevice = "{device}"\n[broker]\nhost = "127.0.0.1"\n'
                               f'port = {self.port}\nca_file = "{self.dir}/ca/practice-ca.pem"\nheartbeat_s = 2\n')
        box, me = root / "box", __import__("pwd").getpwuid(os.geteuid()).pw_name
        self._run("provision", "--office", str(office_file), "--root", str(box), "--owner", me)
        self._run("practice", "sign-box", str(self.dir), str(box / "etc/roomnote/tls/device.csr"), "--signing-key",
                  str(box / "var/lib/roomnote/keys/device-signing.key.pub.pem"))
        out = self._run("provision", "--office", str(office_file), "--root", str(box), "--owner", me, "--cert",
                        str(self.dir / f"boxes/{device}.pem"))
        assert "still missing" not in out, out
        text = (box / "etc/roomnote/roomnote.toml").read_text()
        text = text.replace('"/etc/roomnote', f'"{box}/etc/roomnote').replace('"/var/lib/roomnote', f'"{box}/var/lib/roomnote')
        self.box_cfg = root / "box.toml"
        self.box_cfg.write_text(text)
        self.ws_cfg = self.dir / f"workstations/{office}/workstation.toml"
        self.inbox = Path(env["HOME"]) / "roomnote-inbox"  # the workstation.toml's default, under the test's HOME

    def _run(self, *args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "roomnote", *args], env=self.env, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, f"roomnote {' '.join(args[:2])}: {r.stdout}{r.stderr}"
        return r.stdout

    def workstation(self, **review) -> Path:
        """The workstation.toml as written, with [review] settings added (e.g. longer waits)."""
        lines = "".join(f"{k} = {v!r}\n" for k, v in review.items())
        path = self.root / "workstation.toml"
        path.write_text(self.ws_cfg.read_text().replace("[review]\n", "[review]\n" + lines))
        return path

    def start_broker(self) -> None:
        self.broker = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                       stderr=open(self.broker_log, "ab"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.broker.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.broker_log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop_broker(self) -> None:
        if self.broker and self.broker.poll() is None:
            self.broker.terminate()
            self.broker.wait(10)
