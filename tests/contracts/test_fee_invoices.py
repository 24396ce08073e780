"""Fee invoices as data, pure: amounts are whole VND, a file is validated whole with its line
numbers, and a subscription month is priced by its contract."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from recon.contracts import Contract
from recon.contracts.invoices import (
    HEADER,
    InvoiceErrors,
    InvoiceIn,
    check_invoice,
    expected_charge,
    parse_amount,
    parse_day,
    parse_month,
    parse_rows,
)

PROVIDERS = ("sepay", "casso", "vnpay", "momo")


def rows(*lines: str) -> list[tuple[int, list[object]]]:
    return [(n, list(line.split(","))) for n, line in enumerate(lines, start=1)]


@pytest.mark.parametrize(("text", "amount"), [
    ("180000", 180_000), ("180.000", 180_000), ("180,000", 180_000), ("1.234.567", 1_234_567),
    ("180.000 ₫", 180_000), ("199000 VND", 199_000), (199_000, 199_000), (199000.0, 199_000),
    ("0", 0),
])
def test_amounts_are_whole_vnd(text: object, amount: int) -> None:
    assert parse_amount(text) == amount


@pytest.mark.parametrize("text", ["1.5", "1,000.5", "-5", "-180.000", "1e3", "12.34", "abc",
                                  "", "1,00", "1.000,5", 1.5, True, "+5", "١٢٣"])
def test_anything_but_whole_vnd_is_refused(text: object) -> None:
    with pytest.raises(ValueError, match=r"whole|negative|fraction"):
        parse_amount(text)


def test_dates_and_months() -> None:
    assert parse_day("2021-03-05") == parse_day("05/03/2021") == date(2021, 3, 5)
    assert parse_month("2021-03") == parse_month("03/2021") == date(2021, 3, 1)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day("5 March")
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month("2021-13")


def test_a_file_reads_into_invoices_with_their_lines() -> None:
    got = parse_rows(rows(HEADER,
                          "sepay,SP-0001,2021-02-01,2021-01,199.000,18.091,billed,gói tháng 1",
                          ",,,,,,,",
                          "vnpay,VNP-77,03/03/2021,02/2021,330000,,deducted,"), PROVIDERS)
    assert got == [
        (2, InvoiceIn("sepay", "SP-0001", date(2021, 2, 1), date(2021, 1, 1), 199_000, "billed",
                      18_091, "gói tháng 1")),
        (4, InvoiceIn("vnpay", "VNP-77", date(2021, 3, 3), date(2021, 2, 1), 330_000,
                      "deducted", None, None)),
    ]


def test_every_problem_is_named_with_its_line_and_nothing_is_kept() -> None:
    with pytest.raises(InvoiceErrors) as caught:
        parse_rows(rows(HEADER,
                        "sepay,SP-1,2021-02-01,2021-01,1.5,,billed,",
                        "nobody,X-1,2021-02-01,2021-01,1000,,billed,",
                        "sepay,SP-2,2021-02-30,2021-01,1000,,billed,",
                        "sepay,SP-3,2021-02-01,2021-01,1000,2000,billed,",
                        "sepay,SP-4,2021-02-01,2021-01,1000,,later,",
                        "sepay,SP-5,2021-02-01,2021-01,-1000,,billed,",
                        "sepay,SP-6,2021-02-01,2021-01,1000,,billed,",
                        "sepay,SP-6,2021-02-02,2021-01,1000,,billed,",
                        "sepay,SP-7,2021-02-01,2021-01,0,,billed,"), PROVIDERS)
    found = [(e.line, e.field) for e in caught.value.errors]
    assert found == [(2, "amount"), (3, "provider"), (4, "issued_on"), (5, "vat_amount"),
                     (6, "charged_as"), (7, "amount"), (9, "number"), (10, "amount")]
    assert "line 9: number: invoice SP-6 of sepay is also on line 8" in str(caught.value)


def test_a_header_without_a_needed_column_or_a_provider_is_refused() -> None:
    with pytest.raises(InvoiceErrors, match="no column amount"):
        parse_rows(rows("provider,number,issued_on,period,charged_as"), PROVIDERS)
    with pytest.raises(InvoiceErrors, match="names no provider"):
        parse_rows(rows("number,issued_on,period,amount,charged_as"), PROVIDERS)
    with pytest.raises(InvoiceErrors, match="is empty"):
        parse_rows([], PROVIDERS)
    with pytest.raises(InvoiceErrors, match="no invoice"):
        parse_rows(rows(HEADER), PROVIDERS)


def test_the_importer_may_name_the_provider() -> None:
    got = parse_rows(rows("Number,Issued_on,Period,Amount,Charged_as",
                          "SP-9,2021-04-01,2021-03,199000,billed"), PROVIDERS,
                     provider="sepay")
    assert [i.provider for _, i in got] == ["sepay"]
    with pytest.raises(InvoiceErrors, match="imported as casso's"):
        parse_rows(rows(HEADER, "sepay,SP-1,2021-02-01,2021-01,1000,,billed,"), PROVIDERS,
                   provider="casso")


def test_check_invoice_names_each_field() -> None:
    bad = InvoiceIn("nobody", "", date(2021, 1, 1), date(2021, 1, 2), 0, "maybe")
    assert [e.field for e in check_invoice(bad, PROVIDERS)] == [
        "provider", "number", "amount", "charged_as", "period"]


SEPAY = Contract("sepay-demo", "sepay", "*", date(2021, 1, 1), None, kind="subscription",
                 monthly_vnd=199_000, included_transactions=3_000, overage_vnd=100)


def test_a_subscription_month_costs_the_package_plus_the_overage() -> None:
    assert expected_charge(SEPAY, 0) == 199_000
    assert expected_charge(SEPAY, 3_000) == 199_000
    assert expected_charge(SEPAY, 3_250) == 199_000 + 250 * 100
    excl = replace(SEPAY, vat_included=False, vat_rate_bp=1_000)
    assert expected_charge(excl, 3_001) == (199_000 + 100) * 11 // 10
    per_txn = Contract("vnpay-demo", "vnpay", "*", date(2021, 1, 1), None, rate_bp=88)
    assert expected_charge(per_txn, 500) == 0
    with pytest.raises(ValueError, match="negative"):
        expected_charge(SEPAY, -1)
