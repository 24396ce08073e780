"""The domain model of DESIGN.md §2, one module per aggregate."""

from recon.models.agencies import Agency, Procedure
from recon.models.audit import AuditEvent
from recon.models.dossiers import Dossier, DossierImport, FeeLine
from recon.models.fee_invoices import FeeInvoice, FeeInvoiceFile
from recon.models.payments import (
    Callback,
    Payment,
    PaymentAllocation,
    PaymentIntent,
    RefusedCallCount,
)
from recon.models.periods import Period, PeriodSnapshot
from recon.models.portal import PortalFile, PortalLine
from recon.models.receipts import (
    Receipt,
    ReceiptCorrection,
    ReceiptCounter,
    ReceiptLookupFailure,
    ReceiptSummary,
)
from recon.models.reconciliation import ChangeCounter, Discrepancy, ReconRun
from recon.models.remittances import (
    OwedPart,
    OwedState,
    OwedTotal,
    Remittance,
    RemittanceFile,
    RemittanceLine,
)
from recon.models.scopes import TokenAgency, UserAgency
from recon.models.security import LoginAttempt, WebSession
from recon.models.settlements import SettlementFile, SettlementLine, TransactionSpan
from recon.models.transfers import Transfer, TransferFile
from recon.models.users import ApiToken, User

__all__ = [
    "Agency",
    "ApiToken",
    "AuditEvent",
    "Callback",
    "ChangeCounter",
    "Discrepancy",
    "Dossier",
    "DossierImport",
    "FeeInvoice",
    "FeeInvoiceFile",
    "FeeLine",
    "LoginAttempt",
    "OwedPart",
    "OwedState",
    "OwedTotal",
    "Payment",
    "PaymentAllocation",
    "PaymentIntent",
    "Period",
    "PeriodSnapshot",
    "PortalFile",
    "PortalLine",
    "Procedure",
    "Receipt",
    "ReceiptCorrection",
    "ReceiptCounter",
    "ReceiptLookupFailure",
    "ReceiptSummary",
    "ReconRun",
    "RefusedCallCount",
    "Remittance",
    "RemittanceFile",
    "RemittanceLine",
    "SettlementFile",
    "SettlementLine",
    "TokenAgency",
    "TransactionSpan",
    "Transfer",
    "TransferFile",
    "User",
    "UserAgency",
    "WebSession",
]
