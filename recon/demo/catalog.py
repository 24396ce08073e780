"""Demo data for Huế: agencies, real procedures with their fees, and a dossier generator.

Pure data and pure functions: no database, no I/O, no global random state.

What is real and what is not
----------------------------
* Agencies are real bodies of Thừa Thiên Huế (names as they were around 2021, before Huế
  became a centrally-governed city in 2025). Their **bank accounts are made up**: the BINs are
  real banks, the account numbers are obviously-demo placeholders, not the agencies' accounts.
  Never send real money to them. The agency ``code`` values are demo codes, not the units'
  codes in the national catalogue.
* Procedures are real administrative procedures (thủ tục hành chính) with their code in the
  national database (Cơ sở dữ liệu quốc gia về TTHC). ``code_verified=True`` means the code–name
  pair was cross-checked while writing this file against third-party lists that quote the
  national database (not against the live portal); ``False`` means it is recalled from memory
  or found in a single unofficial source: check it on dichvucong.gov.vn before showing it to
  anyone as fact. Some codes are the ones in use after the 2024–2025 reforms (Land Law 2024,
  GPLX moving to the police, labour-permit decree of 2025); the fees are the rates in force
  around 2021–2024.
* Every fee names its legal source. ``rate_verified=True`` means the amount was given in the
  brief for this module or confirmed by a secondary source while writing it; ``False`` means
  it is from memory or is a provincial rate (set by the HĐND of Thừa Thiên Huế under Thông tư
  85/2019/TT-BTC) that was not checked. Amounts are what one typical dossier is charged
  (e.g. a one-page copy for chứng thực bản sao); channel-dependent discounts (lower or zero
  fees for online filing) are not modelled: a dossier's fees are always its procedure's fees.
* Each fee carries its budget sub-item (``budget_code``, the tiểu mục of the Mục lục NSNN,
  Circular 324/2016/TT-BTC) and, for a phí, its retained share (``retention_bp``, tỷ lệ để
  lại, basis points; a lệ phí is always remitted in full, Law 97/2015 Art. 13). The codes in
  the table of /work/shared/LEGS.md B.2 (2716, 2771, 2805, 2815, 2627, 2861, 2860) are marked
  ``budget_verified=True``; the others are plausible codes of the right group, **not checked**.
  Every retained share is a demo value: the real one is set per fee by its circular or by the
  HĐND and depends on whether the collector is funded from fee revenue (docs/treasury.md).
* Each phí carries its deposit rule (``deposit_rule``: how often the collector sends it to its
  fee account awaiting budget remittance, LEGS B.4). Only phí chứng thực's "by the 5th of each
  month" was read in its circular (Circular 226/2016, ``deposit_verified=True``; Circular
  74/2022 may since have changed it); the others are **demo values, not checked**: monthly by
  the 5th for most, weekly by Thursday for two circulars' fees, daily for the land appraisal.
  In the demo the agency that receives a dossier also collects its fees, except the centre's
  dossiers of three departments' procedures (recon/demo/transfers.py).
* ``weight`` is the relative frequency of a procedure among dossiers and ``online_share`` /
  ``postal_share`` the channel mix: informed estimates, not measured statistics.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Literal

from recon.clock import VN_TZ
from recon.engine.deposits import parse_rule

FeeKind = Literal["phi", "le_phi"]
Channel = Literal["counter", "online", "postal"]
Level = Literal["tinh", "huyen", "xa"]

FEE_KINDS: tuple[FeeKind, ...] = ("phi", "le_phi")
CHANNELS: tuple[Channel, ...] = ("counter", "online", "postal")
LEVELS: tuple[Level, ...] = ("tinh", "huyen", "xa")

#: Every generated dossier code starts with this unit code (H57 = Thừa Thiên Huế).
DOSSIER_PREFIX = "000.00.21.H57"


# --------------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class Agency:
    """A collecting unit and the (demo) account its fees are paid into."""

    code: str
    name: str
    bank_bin: str
    account_number: str
    account_name: str
    level: Level

    def __post_init__(self) -> None:
        if not (len(self.bank_bin) == 6 and self.bank_bin.isdigit()):
            raise ValueError(f"{self.code}: bank_bin must be 6 digits")
        if not (self.account_number.isdigit() and 6 <= len(self.account_number) <= 19):
            raise ValueError(f"{self.code}: account_number must be 6–19 digits")
        if not (self.account_name.isascii() and self.account_name == self.account_name.upper()):
            raise ValueError(f"{self.code}: account_name must be ASCII upper case")


@dataclass(frozen=True, slots=True)
class Fee:
    """One fee (phí) or charge (lệ phí) a procedure assesses, in whole VND."""

    kind: FeeKind
    name: str
    amount: int
    source: str
    rate_verified: bool = True
    budget_code: str = ""  # tiểu mục, 4 digits
    retention_bp: int = 0  # phí only: the share kept, in basis points (5000 = 50 %)
    budget_verified: bool = False
    # phí only: how often it is deposited into the fee account awaiting budget remittance
    # (recon.engine.deposits.parse_rule); ``deposit_verified``: read in the fee's circular
    deposit_rule: str = ""
    deposit_verified: bool = False

    def __post_init__(self) -> None:
        if self.kind not in FEE_KINDS:
            raise ValueError(f"unknown fee kind {self.kind!r}")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount <= 0:
            raise ValueError(f"{self.name}: amount must be a positive int of VND")
        if not self.source.strip():
            raise ValueError(f"{self.name}: every fee names its legal source")
        if not (len(self.budget_code) == 4 and self.budget_code.isdigit()):
            raise ValueError(f"{self.name}: budget_code must be a 4-digit tiểu mục")
        if not 0 <= self.retention_bp <= 10_000 or (self.kind == "le_phi" and self.retention_bp):
            raise ValueError(f"{self.name}: retention_bp is 0..10000, and 0 for a lệ phí")
        if self.deposit_rule:
            if self.kind != "phi":
                raise ValueError(f"{self.name}: only a phí has a deposit rule")
            parse_rule(self.deposit_rule)


@dataclass(frozen=True, slots=True)
class Procedure:
    """An administrative procedure (thủ tục hành chính) of one field (lĩnh vực)."""

    code: str
    name: str
    field: str
    level: Level
    fees: tuple[Fee, ...]
    weight: float
    online_share: float
    postal_share: float = 0.0
    code_verified: bool = True
    free_basis: str = ""  # for procedures without fees: why nothing is charged

    def __post_init__(self) -> None:
        if self.weight <= 0:
            raise ValueError(f"{self.code}: weight must be positive")
        if not (self.online_share >= 0 and self.postal_share >= 0
                and self.online_share + self.postal_share <= 1):
            raise ValueError(f"{self.code}: channel shares must be within 0..1")
        if not self.fees and not self.free_basis:
            raise ValueError(f"{self.code}: a procedure without fees needs a free_basis")
        keys = [(f.kind, f.name) for f in self.fees]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.code}: duplicate fee line")

    @property
    def total(self) -> int:
        return sum(f.amount for f in self.fees)

    @property
    def source(self) -> str:
        """The legal texts behind this procedure's fees (or behind charging nothing)."""
        if not self.fees:
            return self.free_basis
        return "; ".join(dict.fromkeys(f.source for f in self.fees))


@dataclass(frozen=True, slots=True)
class DemoDossier:
    """One generated dossier (hồ sơ); ``fees`` are its procedure's fees."""

    code: str
    agency_code: str
    procedure_code: str
    applicant_name: str
    received_at: datetime
    received_channel: Channel
    fees: tuple[Fee, ...]

    @property
    def total_assessed(self) -> int:
        return sum(f.amount for f in self.fees)

    @property
    def procedure(self) -> Procedure:
        return PROCEDURES_BY_CODE[self.procedure_code]

    @property
    def agency(self) -> Agency:
        return AGENCIES_BY_CODE[self.agency_code]

    def as_intake(self) -> dict[str, object]:
        """The dossier as the JSON body the one-stop software sends to intake."""
        procedure = self.procedure
        return {
            "code": self.code,
            "agency_code": self.agency_code,
            "procedure_code": self.procedure_code,
            "procedure_name": procedure.name,
            "procedure_field": procedure.field,
            "applicant_name": self.applicant_name,
            "received_at": self.received_at.isoformat(),
            "received_channel": self.received_channel,
            "fees": [{"kind": f.kind, "name": f.name, "amount": f.amount,
                      "budget_code": f.budget_code, "retention_bp": f.retention_bp,
                      **({"deposit_rule": f.deposit_rule} if f.deposit_rule else {})}
                     for f in self.fees],
        }


# --------------------------------------------------------------------------- agencies

# All account numbers below are invented for the demo and are NOT the agencies' real
# accounts (a made-up number may still belong to some stranger at that bank: never pay into
# one). Account names are written the way banks display them: ASCII, upper case.
AGENCIES: tuple[Agency, ...] = (
    Agency(
        code="H57.TTPVHCC",
        name="Trung tâm Phục vụ hành chính công tỉnh Thừa Thiên Huế",
        bank_bin="970415",  # VietinBank
        account_number="113000000000",  # demo number, not the centre's real account
        account_name="TRUNG TAM PHUC VU HANH CHINH CONG",
        level="tinh",
    ),
    Agency(
        code="H57.TPHUE",
        name="Ủy ban nhân dân thành phố Huế",
        bank_bin="970418",  # BIDV
        account_number="55110000000000",  # demo
        account_name="UBND THANH PHO HUE",
        level="huyen",
    ),
    Agency(
        code="H57.HUONGTHUY",
        name="Ủy ban nhân dân thị xã Hương Thủy",
        bank_bin="970405",  # Agribank
        account_number="4000000000001",  # demo
        account_name="UBND THI XA HUONG THUY",
        level="huyen",
    ),
    Agency(
        code="H57.HUONGTRA",
        name="Ủy ban nhân dân thị xã Hương Trà",
        bank_bin="970436",  # Vietcombank
        account_number="0161000000000",  # demo
        account_name="UBND THI XA HUONG TRA",
        level="huyen",
    ),
    Agency(
        code="H57.PHUHOI",
        name="Ủy ban nhân dân phường Phú Hội, thành phố Huế",
        bank_bin="970405",  # Agribank
        account_number="4000000000002",  # demo
        account_name="UBND PHUONG PHU HOI",
        level="xa",
    ),
    Agency(
        code="H57.THUYDUONG",
        name="Ủy ban nhân dân phường Thủy Dương, thị xã Hương Thủy",
        bank_bin="970418",  # BIDV
        account_number="55110000000001",  # demo
        account_name="UBND PHUONG THUY DUONG",
        level="xa",
    ),
)

# How dossiers of one level split between that level's agencies.
_AGENCY_SHARE: dict[str, float] = {
    "H57.TTPVHCC": 1.0,
    "H57.TPHUE": 0.55,
    "H57.HUONGTHUY": 0.25,
    "H57.HUONGTRA": 0.20,
    "H57.PHUHOI": 0.6,
    "H57.THUYDUONG": 0.4,
}


# --------------------------------------------------------------------------- procedures

_TT226 = "Thông tư 226/2016/TT-BTC (phí chứng thực)"
_HOTICH_FREE = (
    "Luật Hộ tịch 2014, Điều 11: miễn lệ phí đăng ký khai sinh, khai tử đúng hạn và đăng ký "
    "kết hôn của công dân Việt Nam cư trú ở trong nước"
)
_HDND = "Thông tư 85/2019/TT-BTC: mức thu do HĐND tỉnh Thừa Thiên Huế quyết định"

PROCEDURES: tuple[Procedure, ...] = (
    # ---------------------------------------------------------------- Chứng thực (xã)
    Procedure(
        code="2.000815",
        name=(
            "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan, tổ chức có thẩm "
            "quyền của Việt Nam; cơ quan, tổ chức có thẩm quyền của nước ngoài; cơ quan, tổ "
            "chức có thẩm quyền của Việt Nam liên kết với cơ quan, tổ chức có thẩm quyền của "
            "nước ngoài cấp hoặc chứng nhận"
        ),
        field="Chứng thực",
        level="xa",
        # 2.000 đ/trang; from the 3rd page 1.000 đ/trang, at most 200.000 đ/bản. The demo
        # charges one page per dossier.
        fees=(Fee("phi", "Phí chứng thực bản sao từ bản chính (01 trang)", 2_000, _TT226,
              budget_code="2716",
              deposit_rule="month:5", deposit_verified=True, budget_verified=True),),
        weight=20,
        online_share=0.15,
    ),
    Procedure(
        code="2.000884",
        name=(
            "Chứng thực chữ ký trong các giấy tờ, văn bản (áp dụng cho cả trường hợp chứng "
            "thực điểm chỉ và trường hợp người yêu cầu chứng thực không thể ký, không thể "
            "điểm chỉ được)"
        ),
        field="Chứng thực",
        level="xa",
        # 10.000 đ/trường hợp: from memory, high confidence.
        fees=(Fee("phi", "Phí chứng thực chữ ký", 10_000, _TT226, rate_verified=False,
              budget_code="2716",
              deposit_rule="month:5", deposit_verified=True, budget_verified=True),),
        weight=6,
        online_share=0.0,  # the signer must sign in front of the officer
    ),
    Procedure(
        code="2.001035",
        name="Chứng thực giao dịch liên quan đến tài sản là động sản, quyền sử dụng đất, nhà ở",
        field="Chứng thực",
        level="xa",
        # 50.000 đ/hợp đồng, giao dịch: from memory, high confidence.
        fees=(Fee("phi", "Phí chứng thực hợp đồng, giao dịch", 50_000, _TT226,
                  rate_verified=False, budget_code="2716",
                  deposit_rule="month:5", deposit_verified=True, budget_verified=True),),
        weight=3,
        online_share=0.0,
    ),
    # ---------------------------------------------------------------- Hộ tịch
    Procedure(
        code="2.000635",
        name="Cấp bản sao Trích lục hộ tịch",
        field="Hộ tịch",
        level="xa",
        # 8.000 đ per copy of an extract: from memory, fairly confident.
        fees=(Fee("phi", "Phí khai thác, sử dụng thông tin trong Cơ sở dữ liệu hộ tịch "
                  "(01 bản sao trích lục)", 8_000, "Thông tư 281/2016/TT-BTC",
                  rate_verified=False, budget_code="2717", deposit_rule="month:5"),),
        weight=7,
        online_share=0.55,
        postal_share=0.03,
    ),
    Procedure(
        code="1.001193",
        name="Đăng ký khai sinh",
        field="Hộ tịch",
        level="xa",
        fees=(),
        free_basis=_HOTICH_FREE,
        weight=14,
        online_share=0.55,
    ),
    Procedure(
        code="1.000656",
        name="Đăng ký khai tử",
        field="Hộ tịch",
        level="xa",
        fees=(),
        free_basis=_HOTICH_FREE,
        weight=5,
        online_share=0.35,
    ),
    Procedure(
        code="1.000894",
        name="Đăng ký kết hôn",
        field="Hộ tịch",
        level="xa",
        fees=(),
        free_basis=_HOTICH_FREE,
        weight=6,
        online_share=0.25,
    ),
    Procedure(
        code="2.000806",
        name="Đăng ký kết hôn có yếu tố nước ngoài",
        field="Hộ tịch",
        level="huyen",  # district level until 30/6/2025
        # Provincial rate; 1.000.000 đ is common among provinces, Huế's not checked.
        fees=(Fee("le_phi", "Lệ phí đăng ký kết hôn có yếu tố nước ngoài", 1_000_000, _HDND,
                  rate_verified=False, budget_code="2771", budget_verified=True),),
        weight=0.4,
        online_share=0.2,
    ),
    # ---------------------------------------------------------------- Lý lịch tư pháp (tỉnh)
    Procedure(
        code="2.000488",  # from memory; not cross-checked
        name=(
            "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú "
            "tại Việt Nam"
        ),
        field="Lý lịch tư pháp",
        level="tinh",
        # 200.000 đ/lần; 100.000 đ for students, người có công (not modelled).
        fees=(Fee("phi", "Phí cung cấp thông tin lý lịch tư pháp", 200_000,
                  "Thông tư 244/2016/TT-BTC", budget_code="2719",
                  deposit_rule="week:thu", retention_bp=4_000),),
        weight=5,
        online_share=0.6,
        postal_share=0.05,
        code_verified=False,
    ),
    # ---------------------------------------------------------------- Hộ kinh doanh (huyện)
    Procedure(
        code="1.001612",
        name="Đăng ký thành lập hộ kinh doanh",
        field="Thành lập và hoạt động của hộ kinh doanh",
        level="huyen",
        # Provincial rate; 100.000 đ is common, Huế's not checked.
        fees=(Fee("le_phi", "Lệ phí đăng ký hộ kinh doanh", 100_000, _HDND,
                  rate_verified=False, budget_code="2860", budget_verified=True),),
        weight=4,
        online_share=0.55,
        postal_share=0.02,
    ),
    # ---------------------------------------------------------------- Doanh nghiệp (tỉnh)
    Procedure(
        code="1.000955",  # seen in one unofficial source only
        name="Đăng ký thành lập công ty trách nhiệm hữu hạn hai thành viên trở lên",
        field="Thành lập và hoạt động doanh nghiệp",
        level="tinh",
        # Online filing is exempt from the lệ phí in reality; the demo always charges both.
        fees=(
            Fee("le_phi", "Lệ phí đăng ký doanh nghiệp", 50_000, "Thông tư 47/2019/TT-BTC",
                budget_code="2861", budget_verified=True),
            Fee("phi", "Phí công bố nội dung đăng ký doanh nghiệp", 100_000,
                "Thông tư 47/2019/TT-BTC", budget_code="2662", deposit_rule="week:thu"),
        ),
        weight=1.5,
        online_share=0.85,
        code_verified=False,
    ),
    # ---------------------------------------------------------------- Đường bộ (tỉnh)
    Procedure(
        # 3.000347 is the code one unofficial source gives for "Đổi giấy phép lái xe" since
        # the police took GPLX over on 01/3/2025; the earlier Sở GTVT code is not known here.
        code="3.000347",
        name="Đổi giấy phép lái xe",
        field="Đường bộ",
        level="tinh",
        # 135.000 đ/lần (115.000 đ online, not modelled).
        fees=(Fee("le_phi", "Lệ phí cấp đổi giấy phép lái xe", 135_000,
                  "Thông tư 37/2023/TT-BTC", budget_code="2803"),),
        weight=7,
        online_share=0.6,
        postal_share=0.02,
        code_verified=False,
    ),
    # ---------------------------------------------------------------- Xây dựng (huyện)
    Procedure(
        code="1.013225",
        name="Cấp giấy phép xây dựng mới đối với công trình cấp III, cấp IV và nhà ở riêng lẻ",
        field="Hoạt động xây dựng",
        level="huyen",
        # Provincial rate; 75.000 đ for a private house is common, Huế's not checked.
        fees=(Fee("le_phi", "Lệ phí cấp giấy phép xây dựng nhà ở riêng lẻ", 75_000, _HDND,
                  rate_verified=False, budget_code="2815", budget_verified=True),),
        weight=3,
        online_share=0.35,
        postal_share=0.02,
    ),
    # ---------------------------------------------------------------- Đất đai (huyện)
    Procedure(
        code="1.013978",
        name=(
            "Đăng ký đất đai, tài sản gắn liền với đất, cấp Giấy chứng nhận quyền sử dụng đất, "
            "quyền sở hữu tài sản gắn liền với đất lần đầu đối với hộ gia đình, cá nhân, cộng "
            "đồng dân cư, người gốc Việt Nam định cư ở nước ngoài"
        ),
        field="Đất đai",
        level="huyen",
        # Both amounts are PLACEHOLDERS of a plausible size: the Huế resolution was not
        # checked and the real rates depend on area, urban/rural and whether a house is on it.
        fees=(
            Fee("le_phi", "Lệ phí cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản "
                "gắn liền với đất", 100_000, _HDND, rate_verified=False, budget_code="2805",
                budget_verified=True),
            Fee("phi", "Phí thẩm định hồ sơ cấp Giấy chứng nhận quyền sử dụng đất", 500_000,
                _HDND, rate_verified=False, budget_code="2627",
                deposit_rule="day:1", retention_bp=7_000,
                budget_verified=True),
        ),
        weight=3,
        online_share=0.15,
    ),
    # ---------------------------------------------------------------- An toàn thực phẩm (tỉnh)
    Procedure(
        code="2.000591",
        name=(
            "Cấp Giấy chứng nhận đủ điều kiện an toàn thực phẩm đối với cơ sở sản xuất, kinh "
            "doanh thực phẩm do Sở Công Thương thực hiện"
        ),
        field="An toàn thực phẩm",
        level="tinh",
        # 1.000.000 đ per food-trading establishment: from memory of the fee table
        # (Thông tư 279/2016/TT-BTC, replaced by 67/2021/TT-BTC); not checked, and not
        # certain that table governs the Công Thương sector.
        fees=(Fee("phi", "Phí thẩm định cấp Giấy chứng nhận cơ sở đủ điều kiện an toàn thực "
                  "phẩm (cơ sở kinh doanh thực phẩm)", 1_000_000, "Thông tư 67/2021/TT-BTC",
                  rate_verified=False, budget_code="2632",
                  deposit_rule="month:5", retention_bp=9_000),),
        weight=0.5,
        online_share=0.4,
    ),
    # ---------------------------------------------------------------- Lưu thông hàng hóa (huyện)
    Procedure(
        code="2.000620",  # from memory; not cross-checked
        name="Cấp Giấy phép bán lẻ rượu",
        field="Lưu thông hàng hóa trong nước",
        level="huyen",
        # 1.200.000 đ in cities and towns under a province (all demo districts are); 600.000 đ
        # elsewhere.
        fees=(Fee("phi", "Phí thẩm định cấp Giấy phép bán lẻ rượu (tại thành phố, thị xã)",
                  1_200_000, "Thông tư 168/2016/TT-BTC", budget_code="2641",
                  deposit_rule="month:5", retention_bp=5_000),),
        weight=0.3,
        online_share=0.5,
        code_verified=False,
    ),
    # ---------------------------------------------------------------- Văn hóa (huyện)
    Procedure(
        code="1.001029",
        name="Cấp Giấy phép đủ điều kiện kinh doanh dịch vụ karaoke",
        field="Văn hóa cơ sở",
        level="huyen",
        # 1–3 rooms in a city or town: 4.000.000 đ (4–5 rooms 6.000.000 đ, 6+ 12.000.000 đ).
        # A news item says Thông tư 110/2025/TT-BTC replaces this from 05/01/2026 with
        # 1.000.000 đ per room, at most 6.000.000 đ (not checked).
        fees=(Fee("phi", "Phí thẩm định cấp Giấy phép đủ điều kiện kinh doanh dịch vụ karaoke "
                  "(01–03 phòng, tại thành phố, thị xã)", 4_000_000,
                  "Thông tư 01/2021/TT-BTC", budget_code="2647",
                  deposit_rule="month:5", retention_bp=5_000),),
        weight=0.05,
        online_share=0.3,
    ),
    # ---------------------------------------------------------------- Việc làm (tỉnh)
    Procedure(
        code="1.014199",
        name="Cấp giấy phép lao động cho người lao động nước ngoài làm việc tại Việt Nam",
        field="Việc làm",
        level="tinh",
        # Provincial rate; 600.000 đ is common, Huế's not checked.
        fees=(Fee("le_phi", "Lệ phí cấp giấy phép lao động", 600_000, _HDND,
                  rate_verified=False, budget_code="2776"),),
        weight=0.5,
        online_share=0.8,
    ),
    # ---------------------------------------------------------------- Hợp tác xã (huyện)
    Procedure(
        code="1.005280",  # one unofficial source plus memory; may predate Luật HTX 2023
        name="Đăng ký thành lập hợp tác xã",
        field="Thành lập và hoạt động của hợp tác xã (liên hiệp hợp tác xã)",
        level="huyen",
        # Provincial rate; 100.000 đ is common, Huế's not checked.
        fees=(Fee("le_phi", "Lệ phí đăng ký hợp tác xã", 100_000, _HDND,
                  rate_verified=False, budget_code="2860"),),
        weight=0.1,
        online_share=0.3,
        code_verified=False,
    ),
    # ---------------------------------------------------------------- Bảo trợ xã hội (xã)
    Procedure(
        code="1.001776",
        name=(
            "Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hàng tháng, hỗ trợ kinh phí chăm "
            "sóc, nuôi dưỡng hàng tháng"
        ),
        field="Bảo trợ xã hội",
        level="xa",
        fees=(),
        free_basis="Nghị định 20/2021/NĐ-CP: thủ tục không thu phí, lệ phí",
        weight=8,
        online_share=0.15,
    ),
    Procedure(
        code="1.001699",
        name="Xác định, xác định lại mức độ khuyết tật và cấp Giấy xác nhận khuyết tật",
        field="Bảo trợ xã hội",
        level="xa",
        fees=(),
        free_basis="Luật Người khuyết tật 2010 và văn bản hướng dẫn: không thu phí, lệ phí",
        weight=3,
        online_share=0.1,
    ),
    # ---------------------------------------------------------------- Người có công (xã)
    Procedure(
        code="1.010803",
        name="Giải quyết chế độ trợ cấp thờ cúng liệt sĩ",
        field="Người có công",
        level="xa",
        fees=(),
        free_basis="Nghị định 131/2021/NĐ-CP: thủ tục không thu phí, lệ phí",
        weight=1.5,
        online_share=0.1,
    ),
    # ---------------------------------------------------------------- Giáo dục (huyện)
    Procedure(
        code="2.002481",
        name="Chuyển trường đối với học sinh trung học cơ sở",
        field="Giáo dục trung học",
        level="huyen",
        fees=(),
        free_basis="Thủ tục không thu phí, lệ phí",
        weight=4,
        online_share=0.3,
    ),
)

#: The distinct fields (lĩnh vực), in catalogue order.
FIELDS: tuple[str, ...] = tuple(dict.fromkeys(p.field for p in PROCEDURES))

PROCEDURES_BY_CODE: dict[str, Procedure] = {p.code: p for p in PROCEDURES}
AGENCIES_BY_CODE: dict[str, Agency] = {a.code: a for a in AGENCIES}

if len(PROCEDURES_BY_CODE) != len(PROCEDURES) or len(AGENCIES_BY_CODE) != len(AGENCIES):
    raise RuntimeError("demo catalogue codes must be unique")


# --------------------------------------------------------------------------- names

# Family names with rough national shares (%), plus a few common in Huế (Hồ, Tôn Thất).
_FAMILY: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 31.5), ("Trần", 10.9), ("Lê", 9.5), ("Phạm", 7.0), ("Hoàng", 5.1),
    ("Phan", 4.5), ("Võ", 3.9), ("Đặng", 2.1), ("Bùi", 2.0), ("Hồ", 2.0), ("Huỳnh", 1.5),
    ("Vũ", 1.5), ("Đỗ", 1.4), ("Ngô", 1.3), ("Dương", 1.0), ("Trương", 1.0), ("Đoàn", 0.8),
    ("Tôn Thất", 0.6), ("Lý", 0.5), ("Hà", 0.5), ("Đinh", 0.5), ("Lương", 0.5),
    ("Mai", 0.4), ("Cao", 0.4), ("Thái", 0.4), ("Châu", 0.3),
)
_FAMILY_NAMES = tuple(n for n, _ in _FAMILY)
_FAMILY_CUM = tuple(accumulate(w for _, w in _FAMILY))

_MALE_MIDDLE = ("Văn", "Văn", "Văn", "Đức", "Minh", "Quang", "Hữu", "Công", "Thanh", "Xuân",
                "Ngọc", "Anh", "Hoàng", "Đình", "Trọng", "Quốc", "Bá")
_MALE_GIVEN = ("Anh", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Hải", "Hiếu", "Hoàng",
               "Hùng", "Huy", "Khánh", "Khoa", "Long", "Lộc", "Lợi", "Minh", "Nam", "Nghĩa",
               "Phong", "Phúc", "Phước", "Quân", "Quang", "Sơn", "Tài", "Thắng", "Thành",
               "Thịnh", "Tiến", "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ")
_FEMALE_MIDDLE = ("Thị", "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Phương", "Khánh",
                  "Mỹ", "Bảo", "Hoài", "Minh", "Diệu", "Kim", "Bích")
_FEMALE_SECOND = ("Thanh", "Thu", "Ngọc", "Minh", "Kim", "Hồng", "Diệu", "Bích", "Phương")
_FEMALE_GIVEN = ("An", "Anh", "Châu", "Chi", "Diệp", "Dung", "Giang", "Hà", "Hạnh", "Hằng",
                 "Hiền", "Hoa", "Hồng", "Hương", "Huyền", "Lan", "Linh", "Loan", "Mai", "My",
                 "Nga", "Ngân", "Nhung", "Oanh", "Phương", "Quyên", "Quỳnh", "Tâm", "Thảo",
                 "Thư", "Thủy", "Trang", "Trâm", "Uyên", "Vân", "Yến")


def _full_name(rng: random.Random, family: str) -> str:
    if rng.random() < 0.52:  # slightly more women file at the one-stop counters
        if family == "Tôn Thất":
            family = "Tôn Nữ"  # daughters of the Tôn Thất clan carry Tôn Nữ
        middle = rng.choice(_FEMALE_MIDDLE)
        if middle == "Thị" and rng.random() < 0.2:
            middle = f"Thị {rng.choice(_FEMALE_SECOND)}"
        return f"{family} {middle} {rng.choice(_FEMALE_GIVEN)}"
    return f"{family} {rng.choice(_MALE_MIDDLE)} {rng.choice(_MALE_GIVEN)}"


# --------------------------------------------------------------------------- calendar

_FIXED_HOLIDAYS = frozenset({(1, 1), (4, 30), (5, 1), (9, 2)})

# Weekdays off for public servants besides the fixed dates: Tết Nguyên đán, Giỗ Tổ Hùng Vương
# and days given in lieu / next to 2/9. From memory of the yearly announcements; make-up
# Saturdays are not modelled. Years not listed skip only the fixed dates.
_EXTRA_HOLIDAYS: dict[int, tuple[tuple[date, date], ...]] = {
    2021: ((date(2021, 2, 10), date(2021, 2, 16)), (date(2021, 4, 21), date(2021, 4, 21)),
           (date(2021, 5, 3), date(2021, 5, 3)), (date(2021, 9, 3), date(2021, 9, 3))),
    2022: ((date(2022, 1, 31), date(2022, 2, 4)), (date(2022, 4, 11), date(2022, 4, 11)),
           (date(2022, 5, 2), date(2022, 5, 3)), (date(2022, 9, 1), date(2022, 9, 1))),
    2023: ((date(2023, 1, 20), date(2023, 1, 26)), (date(2023, 5, 2), date(2023, 5, 3)),
           (date(2023, 9, 1), date(2023, 9, 4))),
    2024: ((date(2024, 2, 8), date(2024, 2, 14)), (date(2024, 4, 18), date(2024, 4, 18)),
           (date(2024, 4, 29), date(2024, 4, 29)), (date(2024, 9, 3), date(2024, 9, 3))),
    2025: ((date(2025, 1, 27), date(2025, 1, 31)), (date(2025, 4, 7), date(2025, 4, 7)),
           (date(2025, 5, 2), date(2025, 5, 2)), (date(2025, 9, 1), date(2025, 9, 1))),
}

_SATURDAY_WEIGHT = 0.08  # a skeleton Saturday-morning desk; most Saturdays see little
_MORNING = (7 * 60, 11 * 60 + 30)  # 07:00–11:30
_AFTERNOON = (13 * 60 + 30, 17 * 60)  # 13:30–17:00
_SATURDAY = (7 * 60 + 30, 11 * 60 + 30)  # 07:30–11:30
_MORNING_SHARE = 0.62


def is_holiday(day: date) -> bool:
    if (day.month, day.day) in _FIXED_HOLIDAYS:
        return True
    return any(start <= day <= end for start, end in _EXTRA_HOLIDAYS.get(day.year, ()))


def quarter_bounds(year: int, quarter: int) -> tuple[datetime, datetime]:
    """``[start, end)`` of a calendar quarter in Vietnam time."""
    if quarter not in (1, 2, 3, 4):
        raise ValueError("quarter must be 1, 2, 3 or 4")
    start = datetime(year, 3 * quarter - 2, 1, tzinfo=VN_TZ)
    end = (datetime(year + 1, 1, 1, tzinfo=VN_TZ) if quarter == 4
           else datetime(year, 3 * quarter + 1, 1, tzinfo=VN_TZ))
    return start, end


def working_days(year: int, quarter: int) -> list[tuple[date, float]]:
    """Days the one-stop receives dossiers in the quarter, with their relative load."""
    start, end = quarter_bounds(year, quarter)
    days: list[tuple[date, float]] = []
    day = start.date()
    while day < end.date():
        weekday = day.weekday()
        if weekday < 6 and not is_holiday(day):
            if weekday == 5:
                days.append((day, _SATURDAY_WEIGHT))
            else:  # Mondays are busiest, Fridays a little quieter
                days.append((day, 1.15 if weekday == 0 else 0.95 if weekday == 4 else 1.0))
        day += timedelta(days=1)
    return days


def _minute_of_day(rng: random.Random, saturday: bool) -> float:
    if saturday:
        lo, hi = _SATURDAY
        return rng.triangular(lo, hi, lo + 90)
    if rng.random() < _MORNING_SHARE:
        lo, hi = _MORNING
        return rng.triangular(lo, hi, lo + 100)  # busiest around 08:40
    lo, hi = _AFTERNOON
    return rng.triangular(lo, hi, lo + 60)


# --------------------------------------------------------------------------- generator

_PROC_CUM = tuple(accumulate(p.weight for p in PROCEDURES))
_AGENCIES_BY_LEVEL: dict[str, tuple[tuple[Agency, ...], tuple[float, ...]]] = {}
for _level in LEVELS:
    _at_level = tuple(a for a in AGENCIES if a.level == _level)
    _AGENCIES_BY_LEVEL[_level] = (
        _at_level, tuple(accumulate(_AGENCY_SHARE[a.code] for a in _at_level)))
if any(not _AGENCIES_BY_LEVEL[p.level][0] for p in PROCEDURES):
    raise RuntimeError("every procedure level needs at least one agency")


def expected_online_share() -> float:
    """The long-run share of dossiers filed online that the weights imply."""
    total = sum(p.weight for p in PROCEDURES)
    return sum(p.weight * p.online_share for p in PROCEDURES) / total


def generate_quarter(year: int, quarter: int, *, dossiers: int = 28_300,
                     seed: int = 2021) -> Iterator[DemoDossier]:
    """Yield ``dossiers`` demo dossiers received in the quarter, in order of reception.

    Arguments are checked at the call, not at the first ``next()``. Deterministic: the same
    arguments give the same dossiers; one private ``random.Random`` is seeded from ``seed``
    together with the year and quarter, so consecutive quarters differ. Codes are
    ``000.00.21.H57-YYMMDD-NNNN``, numbered from 0001 each day (wider past 9999).
    """
    if not 2000 <= year <= 2099:
        raise ValueError("year must be within 2000..2099 (dossier codes use two digits)")
    if dossiers < 0:
        raise ValueError("dossiers must not be negative")
    days = working_days(year, quarter)  # validates the quarter
    # A string seed is hashed with SHA-512 by random.Random: stable across runs and hosts.
    rng = random.Random(f"recon-demo:{seed}:{year}:Q{quarter}")  # noqa: S311 - demo data
    return _generate(rng, days, dossiers)


def _generate(rng: random.Random, days: list[tuple[date, float]],
              dossiers: int) -> Iterator[DemoDossier]:
    if not dossiers:
        return
    per_day = [0] * len(days)
    for index in rng.choices(range(len(days)), cum_weights=list(accumulate(w for _, w in days)),
                             k=dossiers):
        per_day[index] += 1
    procedures = rng.choices(PROCEDURES, cum_weights=_PROC_CUM, k=dossiers)
    families = rng.choices(_FAMILY_NAMES, cum_weights=_FAMILY_CUM, k=dossiers)

    n = 0
    for (day, _), count in zip(days, per_day, strict=True):
        if not count:
            continue
        saturday = day.weekday() == 5
        midnight = datetime(day.year, day.month, day.day, tzinfo=VN_TZ)
        seconds = sorted(int(_minute_of_day(rng, saturday) * 60) for _ in range(count))
        stem = f"{DOSSIER_PREFIX}-{day:%y%m%d}-"
        for number, second in enumerate(seconds, start=1):
            procedure = procedures[n]
            agencies, agency_cum = _AGENCIES_BY_LEVEL[procedure.level]
            agency = agencies[0] if len(agencies) == 1 else \
                rng.choices(agencies, cum_weights=agency_cum)[0]
            draw = rng.random()
            channel: Channel = (
                "online" if draw < procedure.online_share
                else "postal" if draw < procedure.online_share + procedure.postal_share
                else "counter"
            )
            yield DemoDossier(
                code=f"{stem}{number:04d}",
                agency_code=agency.code,
                procedure_code=procedure.code,
                applicant_name=_full_name(rng, families[n]),
                received_at=midnight + timedelta(seconds=second),
                received_channel=channel,
                fees=procedure.fees,
            )
            n += 1
