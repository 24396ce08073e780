"""One error hierarchy. Views map these to HTTP in one place; the CLI prints them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FieldError:
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.field}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"field": self.field, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        return out


class ReconError(Exception):
    """Base of every error the service reports to a person or a caller."""

    http_status = 400
    code = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"error": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


class ValidationError(ReconError):
    http_status = 422
    code = "invalid"

    def __init__(
        self, errors: list[FieldError] | FieldError, *, hint: str | None = None
    ) -> None:
        self.errors = errors if isinstance(errors, list) else [errors]
        first = self.errors[0] if self.errors else None
        message = str(first) if len(self.errors) == 1 and first else (
            f"{len(self.errors)} problems: " + "; ".join(str(e) for e in self.errors[:5])
            + (" ..." if len(self.errors) > 5 else "")
        )
        super().__init__(message, hint=hint or "Correct the fields named and send it again.")

    def as_dict(self) -> dict[str, object]:
        out = super().as_dict()
        out["errors"] = [e.as_dict() for e in self.errors]
        return out


class NotFound(ReconError):
    http_status = 404
    code = "not_found"


class Conflict(ReconError):
    http_status = 409
    code = "conflict"


class DuplicateFile(Conflict):
    code = "duplicate_file"


class ConfigurationError(ReconError):
    http_status = 503
    code = "not_configured"


class Forbidden(ReconError):
    http_status = 403
    code = "forbidden"
