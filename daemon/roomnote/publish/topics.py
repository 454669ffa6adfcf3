"""The MQTT topic scheme (documented in README.md, "Publishing").

    roomnote/v1/<office>/<device>/notes              QoS 1, one message per note version
    roomnote/v1/<office>/<device>/status             retained; last will "offline"; heartbeat
    roomnote/v1/<office>/<device>/events             content-free events
    roomnote/v1/<office>/<device>/receipts           signed deletion receipts, QoS 1
    roomnote/v1/<office>/<device>/commands/<name>    consent | revise | finalize | discard | ping

A box may publish only under its own <office>/<device> and read only its own commands; the
broker's ACL enforces that (see firmware-config and the tests' ACL file).
"""
from __future__ import annotations

from dataclasses import dataclass

ROOT = "roomnote/v1"
COMMANDS = ("consent", "revise", "finalize", "discard", "ping")


@dataclass(frozen=True)
class Topics:
    office: str
    device: str

    @property
    def base(self) -> str:
        return f"{ROOT}/{self.office}/{self.device}"

    @property
    def notes(self) -> str:
        return f"{self.base}/notes"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def events(self) -> str:
        return f"{self.base}/events"

    @property
    def receipts(self) -> str:
        return f"{self.base}/receipts"

    def command(self, name: str) -> str:
        return f"{self.base}/commands/{name}"

    @property
    def commands_filter(self) -> str:
        return f"{self.base}/commands/+"

    def command_name(self, topic: str) -> str | None:
        """The <name> of one of this box's command topics (known or not), else None."""
        prefix = f"{self.base}/commands/"
        if topic.startswith(prefix) and "/" not in topic[len(prefix):]:
            return topic[len(prefix):]
        return None


def office_filter(office: str, kind: str, device: str = "+") -> str:
    """What a workstation subscribes to, e.g. roomnote/v1/north/+/notes."""
    return f"{ROOT}/{office}/{device}/{kind}"


def parse(topic: str) -> tuple[str, str, str] | None:
    """(office, device, kind) of a roomnote topic, else None."""
    parts = topic.split("/")
    if len(parts) >= 5 and "/".join(parts[:2]) == ROOT:
        return parts[2], parts[3], parts[4]
    return None
