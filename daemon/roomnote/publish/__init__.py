"""Publishing to the practice network: MQTT 5 over mutual TLS, durable encrypted outbox,
commands, signed deletion receipts (promises P2, P5, P7). See README.md, "Publishing"."""
from .messages import Receipt, RedactedNote, make_receipt, verify_receipt
from .service import PublishingService
from .topics import COMMANDS, Topics

__all__ = ["PublishingService", "RedactedNote", "Receipt", "make_receipt", "verify_receipt", "Topics", "COMMANDS"]
