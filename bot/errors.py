"""Errors the core raises on purpose. Each carries a message safe to show an operator:
no secrets, no raw provider payloads."""


class KindredError(Exception):
    """Base class."""


class LLMUnavailable(KindredError):
    """The LLM endpoint gave no usable reply within the configured deadline."""


class CardError(KindredError):
    """A character card could not be read; the message says what is wrong."""


class PersonaNotFound(KindredError):
    """No persona matches the given name or id."""


class PersonaExists(KindredError):
    """A persona with that name already exists (use replace to overwrite)."""


class ConfigError(KindredError):
    """Settings are invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class MediaUnavailable(KindredError):
    """A file a person sent could not be fetched (gone, refused, or over the size limit)."""


class TooLarge(MediaUnavailable):
    """Over the size limit; ``size`` is the file's size when known. The message is meant
    for the person who sent it."""

    def __init__(self, size: int | None, limit: int) -> None:
        self.size = size
        self.limit = limit
        mb = 1024 * 1024
        if size is None:
            text = f"That file is too large: more than {limit / mb:.1f} MB."
        else:
            text = f"That file is too large: {size / mb:.1f} MB > {limit / mb:.1f} MB."
        super().__init__(text)
