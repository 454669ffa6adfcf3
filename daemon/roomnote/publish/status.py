"""What the status heartbeat reports about the box besides its own state."""
from __future__ import annotations

import shutil
from pathlib import Path

from ..config import Config


def model_versions(cfg: Config) -> dict[str, str]:
    try:
        from ..models import is_installed, load_manifest

        manifest = load_manifest(cfg.models.manifest or None)
        return {e.name: e.version for e in manifest.entries.values() if is_installed(e, cfg.models.dir)}
    except Exception:  # noqa: BLE001 - the heartbeat reports what it can
        return {}


def free_disk_mb(path: str) -> int | None:
    try:
        return shutil.disk_usage(path).free // (1024 * 1024)
    except OSError:
        return None


def temperature_c() -> float | None:
    """SoC temperature where the kernel exposes it (Raspberry Pi, Jetson); None elsewhere."""
    for zone in sorted(Path("/sys/class/thermal").glob("thermal_zone*/temp")):
        try:
            return round(int(zone.read_text().strip()) / 1000.0, 1)
        except (OSError, ValueError):
            continue
    return None
