"""Fee contracts: integer fee arithmetic with explicit rounding, the file's validation, the
book's lookups by provider, channel and date, and the shipped demo contracts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from recon.cli import cli
from recon.contracts import (
    Contract,
    Tier,
    contracts_from_settings,
    default_contracts_path,
    divide,
    load_contracts,
    parse_contracts,
)
from recon.contracts.model import METHODS, MonthCounter, judge
from recon.demo.payments import demo_method


def _c(**kw: object) -> Contract:
    base: dict[str, object] = {"id": "c", "provider": "vnpay", "channel": "*",
                               "valid_from": date(2021, 1, 1), "valid_to": None}
    base.update(kw)
    return Contract(**base)  # type: ignore[arg-type]


def test_rounding_rules_are_explicit_integer_rounding() -> None:
    assert [divide(n, 10, "down") for n in (14, 15, 16)] == [1, 1, 1]
    assert [divide(n, 10, "up") for n in (10, 11, 19)] == [1, 2, 2]
    assert [divide(n, 10, "half_up") for n in (14, 15, 16)] == [1, 2, 2]
    with pytest.raises(ValueError, match="rounding must be one of"):
        divide(1, 2, "banker")


@given(st.integers(0, 10**12), st.integers(1, 10**6))
def test_the_three_rules_bracket_the_exact_quotient(n: int, d: int) -> None:
    down, up, half = divide(n, d, "down"), divide(n, d, "up"), divide(n, d, "half_up")
    assert down * d <= n <= up * d and up - down in (0, 1)
    assert half in (down, up) and abs(2 * (half * d - n)) <= d


def test_rate_fixed_min_max_and_vat() -> None:
    # NeoX-like domestic card: 1 % + 1.000 ₫, excl. VAT 10 %, half up
    card = _c(rate_bp=100, fixed_vnd=1_000, vat_included=False, vat_rate_bp=1_000,
              rounding="half_up")
    assert card.fee(180_000) == (1_800 + 1_000) * 11 // 10  # 3.080 ₫
    assert card.fee(180_050) == 3_081  # 1.800,5 -> 1.801 (half up), + 1.000, + 280,1 -> 280
    capped = _c(rate_bp=100, min_vnd=2_000, max_vnd=50_000, rounding="down")
    assert capped.fee(10_000) == 2_000 and capped.fee(10_000_000) == 50_000
    assert capped.fee(1_234_567) == 12_345


def test_subscriptions_charge_nothing_per_transaction() -> None:
    sub = _c(provider="sepay", kind="subscription", monthly_vnd=199_000)
    assert sub.fee(5_000_000) == 0 and sub.accepted_fees(5_000_000) == [0]


def test_tiers_and_foreign_cards_are_accepted_readings() -> None:
    c = _c(rate_bp=100, tiers=(Tier(10_001, 80),), foreign_card_surcharge_bp=60,
           rounding="down")
    assert c.accepted_fees(100_000) == [1_000, 1_600, 800, 1_400]


TIERED = _c(rate_bp=100, tiers=(Tier(101, 80), Tier(1_001, 60)), rounding="down")


def test_a_tier_applies_from_its_count_and_every_higher_tier_is_accepted() -> None:
    assert [TIERED.level_for(n) for n in (0, 1, 100, 101, 1_000, 1_001, 10**6)] == [
        0, 0, 0, 1, 1, 2, 2]
    # unknown count (0): any tier; the 150th: tier 1 or 2, never the base rate
    assert TIERED.accepted_fees(100_000) == [1_000, 800, 600]
    assert TIERED.accepted_fees(100_000, min_count=150) == [800, 600]
    assert TIERED.accepted_fees(100_000, min_count=5_000) == [600]
    base_after_tier = judge(TIERED, 100_000, 1_000, count=150)
    assert not base_after_tier.ok and base_after_tier.expected == 800
    assert (base_after_tier.level, base_after_tier.min_level) == (1, 1)
    early_tier = judge(TIERED, 100_000, 600, count=3)  # a higher tier before its count: fine
    assert early_tier.ok and early_tier.level == 2 and early_tier.min_level == 0


def test_the_foreign_surcharge_only_for_a_foreign_card() -> None:
    visa = _c(channel="visa", rate_bp=180, foreign_card_surcharge_bp=60, rounding="down")
    assert visa.accepted_fees(100_000, foreign=False) == [1_800]
    assert visa.accepted_fees(100_000, foreign=True) == [2_400]
    assert visa.accepted_fees(100_000) == [1_800, 2_400]  # unknown: both readings
    assert not judge(visa, 100_000, 2_400, foreign=False).ok
    assert not judge(visa, 100_000, 1_800, foreign=True).ok
    unknown = judge(visa, 100_000, 2_400)
    assert unknown.ok and unknown.surcharged and unknown.foreign is None


@given(gross=st.integers(0, 10**10), count=st.integers(0, 5_000), more=st.integers(0, 5_000),
       foreign=st.sampled_from([None, False, True]))
def test_a_higher_count_never_widens_what_is_accepted(gross: int, count: int, more: int,
                                                     foreign: bool | None) -> None:
    """The count is a lower bound: a line judged at a count that later grows accepts a subset
    afterwards, and the reading of the final count is among those accepted before."""
    c = _c(rate_bp=150, tiers=(Tier(101, 120), Tier(1_001, 90)), foreign_card_surcharge_bp=60,
           fixed_vnd=500, vat_included=False, rounding="half_up")
    before = set(c.accepted_fees(gross, min_count=count, foreign=foreign))
    after = set(c.accepted_fees(gross, min_count=count + more, foreign=foreign))
    assert after <= before and after
    final = c.fee(gross, rate_bp=c.rate_at(c.level_for(count + more)),
                  foreign_card=bool(foreign))
    assert final in before
    for fee in before:
        assert judge(c, gross, fee, count=count, foreign=foreign).ok


def test_the_month_counter_counts_per_contract_and_month() -> None:
    counter = MonthCounter()
    flat = _c(id="flat")
    assert counter.next(flat, date(2021, 1, 5)) == 0  # no tiers: not counted
    assert [counter.next(TIERED, date(2021, 1, d)) for d in (1, 2, 31)] == [1, 2, 3]
    assert counter.next(TIERED, date(2021, 2, 1)) == 1
    assert counter.next(_c(id="other", tiers=(Tier(5, 1),)), date(2021, 1, 9)) == 1


def test_refund_fee_returns_the_percentage_when_the_contract_says_so() -> None:
    assert _c(rate_bp=250, refund_fee_vnd=3_000, refund_returns_rate=True).refund_fee(
        100_000) == 3_000
    assert _c(rate_bp=250, refund_fee_vnd=3_000).refund_fee(100_000) == 5_500


GOOD = b'''version = 1
[[contract]]
id = "momo-wallet-2021"
provider = "momo"
channel = "wallet"
valid_from = 2021-01-01
valid_to = 2021-06-30
rate_bp = 110
rounding = "down"
[[contract]]
id = "momo-wallet-2021h2"
provider = "momo"
channel = "wallet"
valid_from = 2021-07-01
rate_bp = 90
rounding = "down"
[[contract]]
id = "momo-any"
provider = "momo"
channel = "*"
valid_from = 2021-01-01
rate_bp = 200
'''


def test_the_book_finds_the_contract_of_the_transaction_date_and_channel() -> None:
    book = parse_contracts(GOOD)
    assert book.find("momo", "wallet", date(2021, 6, 30)).id == "momo-wallet-2021"  # type: ignore[union-attr]
    assert book.find("momo", "wallet", date(2021, 7, 1)).id == "momo-wallet-2021h2"  # type: ignore[union-attr]
    assert book.find("momo", "intl_card", date(2021, 7, 1)).id == "momo-any"  # type: ignore[union-attr]
    # a payment whose method the provider did not report: only "*" covers it
    assert book.find("momo", None, date(2021, 7, 1)).id == "momo-any"  # type: ignore[union-attr]
    assert book.find("momo", "wallet", date(2020, 12, 31)) is None
    assert book.find("vnpay", "qr", date(2021, 7, 1)) is None
    check = book.check("momo", "wallet", date(2021, 3, 1), 200_000, 2_201)
    assert check is not None and check.ok and check.expected == 2_200  # one đồng of rounding
    check = book.check("momo", "wallet", date(2021, 3, 1), 200_000, 2_202)
    assert check is not None and not check.ok


def test_a_bad_file_names_every_problem_and_loads_nothing() -> None:
    bad = b'''version = 1
[[contract]]
id = "a"
provider = "vnpay"
channel = "*"
valid_from = 2021-01-01
rate_bp = 0.88
rounding = "nearest"
[[contract]]
id = "b"
provider = "sepay"
channel = "*"
valid_from = 2021-01-01
kind = "subscription"
rate_bp = 10
[[contract]]
id = "c"
provider = "zalopay"
channel = "*"
valid_from = 2021-01-01
[[contract]]
id = "d"
provider = "zalopay"
channel = "*"
valid_from = 2021-06-01
min_vnd = 5000
max_vnd = 1000
'''
    with pytest.raises(ValueError) as caught:
        parse_contracts(bad, "c.toml")
    message = str(caught.value)
    assert message.startswith("c.toml: ")
    assert "contract #1 (a): rate_bp must be a whole number" in message
    assert "contract #1 (a): rounding must be one of" in message
    assert "contract #2 (b): a subscription has no per-transaction fee" in message
    assert "contract #4 (d): min_vnd is above max_vnd" in message
    with pytest.raises(ValueError, match="overlap in time"):
        parse_contracts(GOOD.replace(b"valid_to = 2021-06-30", b"valid_to = 2021-07-01"))


def test_the_shipped_contracts_price_every_demo_method() -> None:
    """Every method the demo gives a provider's payments has a contract, a per-channel one
    where the demo prices the method apart, and MoMo's wallet is tiered."""
    book = load_contracts()
    day = date(2021, 2, 1)
    for provider in ("vnpay", "momo", "zalopay", "pos"):
        for n in range(40):
            method, _foreign = demo_method(provider, n)
            assert book.find(provider, method, day) is not None, (provider, method)
    assert book.find("vnpay", "domestic_card", day).id == "vnpay-atm-demo"  # type: ignore[union-attr]
    assert book.find("vnpay", "qr", day).id == "vnpay-demo"  # type: ignore[union-attr]
    assert book.find("pos", "visa", day).foreign_card_surcharge_bp  # type: ignore[union-attr]
    wallet = book.find("momo", "wallet", day)
    assert wallet is not None and wallet.channel == "wallet" and wallet.tiers
    assert {c.provider for c in book.contracts if c.kind == "subscription"} == {
        "payos", "sepay", "casso"}
    assert {c.channel for c in book.contracts} <= {"*", *METHODS}


def test_contracts_cli(tmp_path: Path) -> None:
    listed = CliRunner().invoke(cli, ["contracts", "list"])
    assert listed.exit_code == 0 and "vnpay-demo" in listed.output and "88 bp" in listed.output
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n[[contract]]\nid = "x"\n')
    out = CliRunner().invoke(cli, ["contracts", "check", str(bad)])
    assert out.exit_code == 1 and "provider must be a non-empty text" in out.output
    good = tmp_path / "good.toml"
    good.write_bytes(GOOD)
    ok = CliRunner().invoke(cli, ["contracts", "check", str(good)])
    assert ok.exit_code == 0 and "3 contracts (providers: momo)" in ok.output
    # the new fields are checked too: an unknown method, a tier from the first transaction
    odd = tmp_path / "odd.toml"
    odd.write_bytes(GOOD.replace(b'channel = "wallet"\nvalid_from = 2021-07-01',
                                 b'channel = "momo"\nvalid_from = 2021-07-01')
                    .replace(b'rate_bp = 200', b'rate_bp = 200\ntiers = [{ from_count = 1, '
                                               b'rate_bp = 150 }]'))
    out = CliRunner().invoke(cli, ["contracts", "check", str(odd)])
    assert out.exit_code == 1, out.output
    assert "(momo-wallet-2021h2): channel must be \"*\" or a payment method" in out.output
    assert "(momo-any): a tier's from_count must be 2 or more" in out.output
    assert "nothing was changed" in out.output
    listed = CliRunner().invoke(cli, ["contracts", "list"])
    assert "95 bp from transaction 101 of a month" in listed.output
    assert "+60 bp foreign card" in listed.output


def test_a_bad_contracts_file_stops_the_start(tmp_path: Path) -> None:
    from recon import create_app
    from recon.config import load_settings

    bad = tmp_path / "contracts.toml"
    bad.write_text("version = 1\n[[contract]]\nid = 5\n")
    env = {"RECON_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "RECON_SECRET_KEY": "k" * 32, "RECON_INSTANCE_PATH": str(tmp_path),
           "RECON_CONTRACTS_FILE": str(bad)}
    with pytest.raises(ValueError, match="contract #1: id must be a non-empty text"):
        create_app(load_settings(env))
    env["RECON_CONTRACTS_FILE"] = ""
    env["RECON_CALENDAR_FILE"] = str(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="RECON_CALENDAR_FILE"):
        create_app(load_settings(env))


def test_production_without_a_contracts_file_judges_no_fees(tmp_path: Path) -> None:
    """The shipped file holds the demo's figures: only development and test fall back to it;
    production without RECON_CONTRACTS_FILE judges no fee rather than a centre's by the demo's."""
    demo = contracts_from_settings({"RECON_ENV": "development"})
    assert demo.contracts  # the demo's contracts
    assert not contracts_from_settings({"RECON_ENV": "production"}).contracts
    own = tmp_path / "contracts.toml"
    own.write_bytes(default_contracts_path().read_bytes())
    assert contracts_from_settings({"RECON_ENV": "production",
                                    "RECON_CONTRACTS_FILE": str(own)}).contracts
