"""The staff web console (inbox, mention review, dashboard) and the customer web chat.

`console.create_app(store, settings, engine=None)` builds the web app; it is imported lazily so
that reading config.yml (which imports `console.config`) stays light.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from webcare.console.app import create_app

        return create_app
    raise AttributeError(f"module 'console' has no attribute {name!r}")


__all__ = ["create_app"]
