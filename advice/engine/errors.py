"""The one error type for bad clinical input, shared by the engine, the commands and the API."""


class InputError(ValueError):
    """Input that cannot be used; `field` is its dotted JSON path (e.g. `sample.drawn_at`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
