"""The receipts' settings, from ``RECON_RECEIPT*`` variables (docs/receipts.md).

The form code and the series are patterns, not constants: RECEIPTS.md §1.5 reads them from
TT 32/2025 (``EBL01``, ``26T``) and TT 91/2026, which replaced it, was not read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from recon.engine.receipt_check import DEFAULT_GRACE_MINUTES, ReceiptCheckConfig
from recon.errors import ConfigurationError

DEFAULT_FORM_CODE = "EBL01"
DEFAULT_FORM_CODE_PATTERN = r"EBL0[12]"
DEFAULT_SERIES = "{yy}T"
DEFAULT_SERIES_PATTERN = r"[0-9]{2}T"
#: RECON_RECEIPTS_ISSUE: ``inline`` (in the payment's transaction) or ``worker`` (the
#: scheduler's sweep, every RECON_RECEIPTS_SWEEP_SECONDS, in batches: docs/receipts.md)
ISSUE_MODES = ("inline", "worker")
DEFAULT_SWEEP_SECONDS = 5.0


@dataclass(frozen=True)
class ReceiptSettings:
    enabled: bool = False
    form_code: str = DEFAULT_FORM_CODE
    form_code_pattern: str = DEFAULT_FORM_CODE_PATTERN
    series_template: str = DEFAULT_SERIES
    series_pattern: str = DEFAULT_SERIES_PATTERN
    tax_code: str | None = None  # the collecting organisation's MST
    p12_file: str | None = None
    p12_password: str | None = None
    # RECON_RECEIPT_P12_DIR: a folder of organisations' own certificates, ``<MST>.p12`` (with
    # its password in ``<MST>.password`` beside it, else RECON_RECEIPT_P12_PASSWORD); an
    # organisation without one signs with RECON_RECEIPT_P12_FILE's
    p12_dir: str | None = None
    # days after a receipt's day by whose end its summary table must have been sent
    summary_grace_days: int = 1
    issue_mode: str = "inline"
    sweep_seconds: float = DEFAULT_SWEEP_SECONDS

    @property
    def inline(self) -> bool:
        """Receipts are issued in the transaction that records the payment (the default)."""
        return self.issue_mode == "inline"

    def __post_init__(self) -> None:
        for name, pattern in (("RECON_RECEIPT_FORM_CODE_PATTERN", self.form_code_pattern),
                              ("RECON_RECEIPT_SERIES_PATTERN", self.series_pattern)):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigurationError(f"{name} is not a regular expression ({exc}); "
                                      "fix it and restart") from exc
        if not re.fullmatch(self.form_code_pattern, self.form_code):
            raise ConfigurationError(
                f"RECON_RECEIPT_FORM_CODE {self.form_code!r} does not match "
                f"RECON_RECEIPT_FORM_CODE_PATTERN {self.form_code_pattern!r}; fix one of them")
        if "{yy}" not in self.series_template:
            raise ConfigurationError(
                "RECON_RECEIPT_SERIES must contain {yy} (the two digits of the year of issue): "
                "receipt numbers restart at 1 each 1 January, so each year needs its own series")
        self.series_for(date(2026, 1, 1))  # the template renders and matches its pattern

    def series_for(self, issued_on: date) -> str:
        """The series of a receipt issued on ``issued_on`` (a date in Vietnam time)."""
        try:
            series = self.series_template.format(yy=f"{issued_on.year % 100:02d}")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigurationError(
                f"RECON_RECEIPT_SERIES {self.series_template!r} may only use {{yy}}") from exc
        if not re.fullmatch(self.series_pattern, series):
            raise ConfigurationError(
                f"the series {series!r} from RECON_RECEIPT_SERIES does not match "
                f"RECON_RECEIPT_SERIES_PATTERN {self.series_pattern!r}; fix one of them")
        return series

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReceiptSettings:
        def get(name: str, default: str) -> str:
            return env.get(name) or default

        switch = get("RECON_RECEIPTS", "off").strip().lower()
        if switch not in ("on", "off"):
            raise ConfigurationError(f"RECON_RECEIPTS must be on or off, not {switch!r}")
        return cls(
            enabled=switch == "on",
            form_code=get("RECON_RECEIPT_FORM_CODE", DEFAULT_FORM_CODE),
            form_code_pattern=get("RECON_RECEIPT_FORM_CODE_PATTERN", DEFAULT_FORM_CODE_PATTERN),
            series_template=get("RECON_RECEIPT_SERIES", DEFAULT_SERIES),
            series_pattern=get("RECON_RECEIPT_SERIES_PATTERN", DEFAULT_SERIES_PATTERN),
            tax_code=env.get("RECON_RECEIPT_TAX_CODE") or None,
            p12_file=env.get("RECON_RECEIPT_P12_FILE") or None,
            p12_password=env.get("RECON_RECEIPT_P12_PASSWORD") or None,
            p12_dir=env.get("RECON_RECEIPT_P12_DIR") or None,
            summary_grace_days=_days(env.get("RECON_RECEIPT_SUMMARY_GRACE_DAYS")),
            issue_mode=_issue_mode(env.get("RECON_RECEIPTS_ISSUE")),
            sweep_seconds=_sweep_seconds(env.get("RECON_RECEIPTS_SWEEP_SECONDS")),
        )


def receipt_check_config(env: Mapping[str, str]) -> ReceiptCheckConfig | None:
    """The run's receipt pass (``recon.engine.receipt_load``) when ``RECON_RECEIPTS=on``, with
    ``RECON_RECEIPT_GRACE_MINUTES`` (default 10): how long a succeeded payment may wait for its
    receipt before it is a ``receipt_missing``. ``None`` with receipts off: nothing is judged."""
    if not ReceiptSettings.from_env(env).enabled:
        return None
    raw = (env.get("RECON_RECEIPT_GRACE_MINUTES") or "").strip()
    if not raw:
        return ReceiptCheckConfig()
    if not (raw.isascii() and raw.isdigit()):
        raise ConfigurationError(
            f"RECON_RECEIPT_GRACE_MINUTES must be a whole number of minutes >= 0, got {raw!r}; "
            f"set it to e.g. {DEFAULT_GRACE_MINUTES}, or unset it")
    return ReceiptCheckConfig(grace_minutes=int(raw))
def _days(raw: str | None) -> int:
    if raw is None or not raw.strip():
        return 1
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):
        raise ConfigurationError(f"RECON_RECEIPT_SUMMARY_GRACE_DAYS must be a whole number of "
                                 f"days (0 or more), got {raw!r}; unset it for the default (1)")
    return int(text)


def _issue_mode(raw: str | None) -> str:
    mode = (raw or "").strip().lower() or "inline"
    if mode not in ISSUE_MODES:
        raise ConfigurationError(f"RECON_RECEIPTS_ISSUE must be inline or worker, not {raw!r}; "
                                 "unset it for the default (inline)")
    return mode


def _sweep_seconds(raw: str | None) -> float:
    if raw is None or not raw.strip():
        return DEFAULT_SWEEP_SECONDS
    try:
        value = float(raw.strip())
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise ConfigurationError(
            f"RECON_RECEIPTS_SWEEP_SECONDS must be a number of seconds above 0 (at most 3600), "
            f"got {raw!r}; unset it for the default ({DEFAULT_SWEEP_SECONDS:g})")
    return value
