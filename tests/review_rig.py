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
