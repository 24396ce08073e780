"""The one catalogue of texts (recon.web.i18n) covers everything the web app can show (issue 13,
item 7). Fails when:

* a template calls ``t("…")`` with a key that has no Vietnamese text;
* a view passes a literal key to ``tr(…)`` / ``translate(…)`` (or keeps one in a message table)
  with no Vietnamese text;
* the code can write an audit action, an audit entity, a callback outcome or an actor kind that
  has no label (all enumerated from the source, so a new one fails here until it is labelled).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from adapters.base import Outcome
from recon.payments import ingest, spool
from recon.web import cashier, finance, finance_receipts, i18n

ROOT = Path(__file__).resolve().parents[2]
RECON = ROOT / "recon"
TEMPLATES = RECON / "web" / "templates"
#: keys whose Vietnamese is the same word (names)
SAME_IN_BOTH = {"English", "Tiếng Việt", "VNPay", "MoMo", "ZaloPay", "payOS", "Export CSV"}
TRANSLATE_CALL = re.compile(r"""(?<![\w.])t\(\s*(?P<q>["'])(?P<key>(?:(?!(?P=q)).)*)(?P=q)\s*\)""")


def _missing(keys: set[str]) -> list[str]:
    return sorted(k for k in keys if k not in i18n.VI)


def test_every_template_key_has_vietnamese() -> None:
    keys: dict[str, set[str]] = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        found = {m.group("key") for m in TRANSLATE_CALL.finditer(path.read_text("utf-8"))}
        keys[str(path.relative_to(TEMPLATES))] = found
    assert sum(len(v) for v in keys.values()) > 250  # the scan sees the templates' keys
    assert i18n.VI["Outcome"] == "Kết quả"
    missing = {name: _missing(found) for name, found in keys.items() if _missing(found)}
    assert not missing, missing
    untranslated = sorted(k for found in keys.values() for k in found
                          if k != "app_name" and i18n.VI[k] == k and k not in SAME_IN_BOTH)
    assert not untranslated, untranslated


def _literal_keys(tree: ast.AST) -> set[str]:
    """First arguments of ``tr(…)``, ``translate(…)``, ``i18n.translate(…)`` that are literals."""
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else (
            func.attr if isinstance(func, ast.Attribute) else "")
        first = node.args[0]
        if name in {"tr", "translate", "t"} and isinstance(first, ast.Constant) \
                and isinstance(first.value, str):
            found.add(first.value)
    return found


def test_every_key_a_view_shows_has_vietnamese() -> None:
    keys: set[str] = set()
    for path in sorted((RECON / "web").glob("*.py")):
        keys |= _literal_keys(ast.parse(path.read_text("utf-8")))
    assert "Not found." in keys and "Wrong username or password." in keys
    # message tables the views translate at run time
    keys |= set(finance._REASON_MESSAGES.values()) | set(finance._FIELD_MESSAGES.values())
    keys |= set(finance._DONE_MESSAGES.values()) | {label for _, label in finance.SORT_LABELS}
    keys |= set(finance._CHAIN_REASONS)
    keys |= set(cashier.DESK_MESSAGES.values()) | {cashier.FALLBACK}
    for table in (finance_receipts._REASONS, finance_receipts._FIELDS,
                  finance_receipts.RECEIPT_KINDS, finance_receipts.RECEIPT_MARKS,
                  finance_receipts.CORRECTION_KINDS, finance_receipts.CORRECTION_STATES,
                  finance_receipts.SUMMARY_STATES):
        keys |= set(table.values())
    keys |= set(cashier.CHANNEL_LABELS.values())
    keys |= set(i18n.PAYMENT_STATUS_LABELS)  # the desk shows t(status)
    keys |= {"cashier", "finance", "admin"}  # t(principal.role)
    assert not _missing(keys), _missing(keys)


def _source() -> str:
    return "\n".join(p.read_text("utf-8") for p in sorted(RECON.rglob("*.py")))


def test_every_audit_action_and_entity_the_code_writes_has_a_label() -> None:
    source = _source()
    actions = set(re.findall(r"""action\s*=\s*"([a-z_]+\.[a-z_]+)\"""", source))
    actions |= set(re.findall(r"""^[A-Z_]+(?::\s*Final)?\s*=\s*"([a-z_]+\.[a-z_]+)"$""", source,
                              re.M))  # RECORDED = "payment.recorded", SEEDED_ACTION = ...
    actions = {a for a in actions  # file names (MANIFEST = "manifest.csv") are not actions
               if a.rsplit(".", 1)[1] not in {"csv", "json", "xml", "xlsx", "zip", "toml"}}
    assert {"payment.recorded", "user.logged_in", "discrepancy.resolved",
            "demo.payments_seeded", "intent.expired"} <= actions
    assert not actions - set(i18n.ACTION_LABELS), sorted(actions - set(i18n.ACTION_LABELS))
    entities = set(re.findall(r"""entity_type\s*=\s*"([a-z_]+)\"""", source))
    entities |= set(re.findall(r"""INSERT INTO audit_events .*?'([a-z_]+)', CAST""", source,
                               re.S))
    assert {"payment", "discrepancy", "settlement_file", "recon_run"} <= entities
    assert not entities - set(i18n.ENTITY_LABELS), sorted(entities - set(i18n.ENTITY_LABELS))


def test_every_callback_outcome_has_a_label() -> None:
    outcomes = {o.value for o in Outcome}
    outcomes |= {ingest.RECEIVED, ingest.TOO_LARGE, ingest.ERROR, ingest.PENDING, spool.SPOOLED}
    assert not outcomes - set(i18n.OUTCOME_LABELS), sorted(outcomes - set(i18n.OUTCOME_LABELS))


def test_every_actor_kind_the_code_writes_has_a_label() -> None:
    source = _source()
    literal = r"""(?:actor|ACTOR|recorded_by|created_by|triggered_by|imported_by)\w*"""
    whole = set(re.findall(literal + r"""(?:\s*:\s*[\w\[\]| .]+)?\s*=\s*"([a-z_:]+)\"""",
                           source))
    whole |= set(re.findall(literal + r"""\s*or\s*"([a-z_:]+)\"""", source))
    kinds = set(re.findall(r"""f"([a-z_]+):\{""", source))
    kinds.discard("file")  # SQLite's URI form (f"file:{path}?mode=ro"), not an actor
    kinds |= {w.split(":")[0] for w in whole if w.endswith(":")}
    kinds |= set(re.findall(r"""Principal\("([a-z]+)\"""", source))  # user:…, token:…
    whole = {w for w in whole if not w.endswith(":")}
    assert {"user", "token", "webhook", "fetch", "cli", "scheduler"} <= kinds
    assert {"system", "system:reconcile", "cli", "demo"} <= whole
    for actor in whole:
        assert i18n.actor_label_pair(actor) is not None, actor
    for kind in kinds:
        assert kind in i18n.ACTOR_KIND_LABELS, kind


def test_the_label_functions_speak_both_languages(app) -> None:  # type: ignore[no-untyped-def]
    with app.test_request_context("/finance"):
        assert i18n.actor_label("user:thungan") == "Người dùng thungan"
        assert i18n.actor_label("webhook:pos") == "Thông báo từ POS"
        assert i18n.actor_label("system:reconcile") == "Đối soát tự động"
        assert i18n.actor_label("someone") == "someone"  # unknown: as it is
        assert i18n.action_label("user.logged_in") == "Đăng nhập"
        assert i18n.outcome_label("accepted") == "Đã ghi nhận"
        assert i18n.entity_ref("payment", "4685") == "Khoản thanh toán #4685"
        assert i18n.kind_label("duplicate_payment") == "Thanh toán trùng"
        assert i18n.num(12294) == "12.294"
        assert i18n.translate("paid") == "Đã thanh toán"
    with app.test_request_context("/finance?lang=en"):
        assert i18n.actor_label("user:thungan") == "User thungan"
        assert i18n.actor_label("webhook:sepay") == "Callback from SePay"
        assert i18n.action_label("payment.recorded") == "Payment recorded"
        assert i18n.outcome_label("accepted") == "Accepted"
        assert i18n.entity_ref("discrepancy", 12) == "Discrepancy #12"
        assert i18n.translate("paid") == "Paid"
        assert i18n.translate("Resolved.") == "Resolved."


def test_one_catalogue_serves_the_whole_web_app() -> None:
    """The desk and the workbench keep no dictionary of their own."""
    assert cashier.VI is i18n.VI
    assert not (RECON / "web" / "finance_text.py").exists()
    for path in sorted((RECON / "web").glob("*.py")):
        if path.name == "i18n.py":
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict) and len(node.values) > 3 and all(
                    isinstance(v, ast.Constant) and isinstance(v.value, str)
                    and re.search(r"[ạảãàáâậầấẩẫăắằặẳẵđêềếệểễôồốộổỗơờớợởỡưừứựửữ]", v.value)
                    for v in node.values):
                raise AssertionError(f"{path.name}:{node.lineno} holds Vietnamese texts")
