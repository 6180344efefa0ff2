"""The one exception hierarchy of webcare.

This module imports nothing, so every package (store, nlu, bot, listeners, console) may use it
without breaking the downward direction of imports. The CLI shows a `WebcareError` as one line,
without a traceback; anything else is a bug.
"""


class WebcareError(Exception):
    """Base of every error webcare raises on purpose."""


class ConfigError(WebcareError):
    """config.yml is missing, malformed or invalid; the message names the key and the line."""


class StoreError(WebcareError):
    """The shared store failed or was asked for something impossible."""


class NotFound(StoreError):
    """A customer, conversation, ticket, mention or user does not exist."""


class NLUError(WebcareError):
    """Analysis, training or evaluation failed."""


class ModelNotTrained(NLUError):
    """No trained model files were found; run `webcare nlu train`."""


class ChannelError(WebcareError):
    """A chat channel failed to start, receive or send."""


class DeliveryFailed(ChannelError):
    """A send failed: retry after `retry_after` seconds when the platform said so, never when `permanent`."""

    def __init__(self, message: str, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class ListenerError(WebcareError):
    """A social network listener failed to poll."""


class RateLimited(ListenerError):
    """The remote API asked us to wait; `retry_after` is in seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyRequests(WebcareError):
    """A client went over a rate limit; it may try again after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
