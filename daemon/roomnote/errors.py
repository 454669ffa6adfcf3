"""Errors a person can act on: each one is printed as a single line by the CLI."""


class RoomnoteError(Exception):
    """Bad input or a bad environment, with a message that says what to do.

    The message must never contain words from a session.
    """


class ConfigError(RoomnoteError):
    pass


class ModelError(RoomnoteError):
    pass


class AudioError(RoomnoteError):
    pass


class RevisionRefused(RoomnoteError):
    """A revision instruction that cannot be carried out from the transcript; nothing changed."""


class PublishError(RoomnoteError):
    """Broker, TLS, outbox, key or command trouble on the way to the practice network."""


class AuditError(RoomnoteError):
    pass
