"""Registration of the extension's classes (filled in by the UI work)."""


def register() -> None:
    pass


def unregister() -> None:
    pass
