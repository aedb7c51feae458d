"""The checkout state machine, without devices."""

import pytest

from kiosk.catalog import DEMO_PRODUCTS
from kiosk.checkout import (
    MAX_QTY,
    UNDO_S,
    Beep,
    CallHelp,
    CancelPayment,
    Checkout,
    Outcome,
    PayStep,
    Phase,
    PrintReceipt,
    StartPayment,
)
from tests.factories import an_order

CATALOG = {p.barcode: p for p in DEMO_PRODUCTS}
WATER, MILK, BAG = "6901234000016", "6901234000054", "6901234000320"
ALIPAY = "281234567890123451"


@pytest.fixture
def co():
    return Checkout(CATALOG, idle_timeout_s=60, result_timeout_s=10, language="zh_CN", now=0.0)


def test_scan_adds_and_repeats_increment(co):
    assert co.scan(WATER, 1) == [Beep("ok")]
    co.scan(WATER, 2)
    co.scan(MILK, 3)
    assert co.phase is Phase.CART
    assert [(ln.product.barcode, ln.qty) for ln in co.cart.lines] == [(WATER, 2), (MILK, 1)]
    t = co.totals()
    assert (t.subtotal, t.total, t.items) == (200 * 2 + 380, 780, 3)
    # tax-inclusive: 13% on 400 -> 46, 9% on 380 -> 31
    assert t.tax_by_class == {"reduced": 31, "standard": 46} and t.tax == 77


def test_unknown_and_garbage_change_nothing(co):
    co.scan(WATER, 1)
    before = co.cart.snapshot()
    for text in ["6900000000007", "6901234000017", "abc", "https://example.com/x", "\x00\x01", "9" * 40]:
        effects = co.scan(text, 2)
        assert effects == [Beep("error")]
        assert co.notice.error
        assert co.cart.snapshot() == before
    assert co.notice.key == "not_a_product"
    co.scan("6900000000007", 3)
    assert co.notice.key == "unknown_barcode" and co.notice.params["code"] == "6900000000007"


def test_quantity_buttons(co):
    co.scan(WATER, 1)
    co.tap_plus("P001", 2)
    assert co.cart.lines[0].qty == 2
    co.tap_minus("P001", 3)
    co.tap_minus("P001", 4)
    assert not co.cart and co.phase is Phase.CART  # the empty cart stays while Undo is offered
    co.tick(4 + UNDO_S)
    assert co.phase is Phase.IDLE
    co.scan(WATER, 5)
    co.scan(MILK, 5)
    co.tap_remove("P001", 6)
    assert [ln.product.sku for ln in co.cart.lines] == ["P005"]


def test_quantity_is_capped(co):
    for _ in range(MAX_QTY):
        co.scan(BAG, 1)
    assert co.scan(BAG, 2) == [Beep("error")] and co.notice.key == "max_qty"
    assert co.cart.lines[0].qty == MAX_QTY


def test_payment_code_pays_the_cart(co):
    co.scan(WATER, 1)
    effects = co.scan(ALIPAY, 2)
    assert len(effects) == 1 and isinstance(effects[0], StartPayment)
    start = effects[0]
    assert start.totals.total == 200 and start.lines[0][1] == 1 and start.code == ALIPAY
    assert co.phase is Phase.PAYMENT and co.pay_step is PayStep.SUBMITTING and co.paying
    assert co.masked_code == "2812**********3451"[:4] + "*" * 8 + "3451"
    # while paying, more frames of the same code and product scans do nothing
    assert co.scan(ALIPAY, 3) == [] and co.scan(MILK, 3) == []
    co.payment_progress(PayStep.USER_PAYING)
    assert co.pay_step is PayStep.USER_PAYING
    order = an_order("K01-261124-0001")
    assert co.payment_finished(Outcome.PAID, 4, order=order) == [Beep("paid"), PrintReceipt(order)]
    assert co.receipt == "printing"
    co.receipt_done("K01-261124-0000", False)  # another sale's receipt: not this one's
    assert co.receipt == "printing"
    co.receipt_done("K01-261124-0001", True)
    assert co.receipt == "printed"
    assert co.phase is Phase.RESULT and co.order_no == "K01-261124-0001" and co.paid_total == 200
    assert not co.cart


def test_payment_code_with_empty_cart_is_refused(co):
    assert co.scan(ALIPAY, 1) == [Beep("error")]
    assert co.notice.key == "scan_products_first" and co.phase is Phase.IDLE


def test_a_code_is_never_tried_twice(co):
    co.scan(WATER, 1)
    co.scan(ALIPAY, 2)
    co.payment_finished(Outcome.FAILED, 3, reason="NOTENOUGH")
    assert co.phase is Phase.PAYMENT and co.pay_step is PayStep.WAITING_CODE and co.cart
    assert co.notice.key == "payment_declined" and co.notice.params["reason"] == "NOTENOUGH"
    assert co.scan(ALIPAY, 4) == [Beep("error")] and co.notice.key == "code_used"
    assert isinstance(co.scan("281234567890123452", 5)[0], StartPayment)


def test_other_codes_on_the_payment_screen_are_not_payment_codes(co):
    co.scan(WATER, 1)
    co.tap_pay(2)
    for text in ["https://qr.alipay.com.evil.example/pay", "fp1234567890123456", "hQVDUFYwMWAAAA"]:
        assert co.scan(text, 3) == [Beep("error")]
        assert co.notice.key == "not_a_payment_code"
        assert co.phase is Phase.PAYMENT and not co.paying


def test_tap_pay_then_back(co):
    co.tap_pay(0)
    assert co.phase is Phase.IDLE  # nothing to pay
    co.scan(WATER, 1)
    co.tap_pay(2)
    assert co.phase is Phase.PAYMENT and co.pay_step is PayStep.WAITING_CODE
    co.tap_back(3)
    assert co.phase is Phase.CART


def test_shopper_cancels_a_wait(co):
    co.scan(WATER, 1)
    co.scan(ALIPAY, 2)
    co.payment_progress(PayStep.USER_PAYING)
    assert co.tap_cancel_payment(3) == [CancelPayment()]
    assert co.pay_step is PayStep.CANCELLING
    co.payment_progress(PayStep.USER_PAYING)  # a late report does not undo the cancel
    assert co.pay_step is PayStep.CANCELLING
    co.payment_finished(Outcome.CANCELLED, 4)
    assert co.notice.key == "payment_cancelled" and co.cart


def test_idle_countdown_and_reset(co):
    co.scan(WATER, 0)
    co.set_language("en", 0)
    assert co.idle_seconds_left(30) is None
    assert co.idle_seconds_left(50) == 10
    co.tick(59)
    assert co.phase is Phase.CART
    co.tick(60)
    assert co.phase is Phase.IDLE and not co.cart and co.language == "zh_CN"


def test_no_idle_reset_while_paying(co):
    co.scan(WATER, 0)
    co.scan(ALIPAY, 1)
    co.tick(1000)
    assert co.phase is Phase.PAYMENT and co.idle_seconds_left(1000) is None


def test_result_screen_times_out(co):
    co.scan(WATER, 0)
    co.scan(ALIPAY, 1)
    co.payment_finished(Outcome.PAID, 2, order=an_order("X"))
    co.tick(11)
    assert co.phase is Phase.RESULT
    co.tick(12)
    assert co.phase is Phase.IDLE


def test_next_shopper_scans_on_the_result_screen(co):
    co.scan(WATER, 0)
    co.scan(ALIPAY, 1)
    co.payment_finished(Outcome.PAID, 2, order=an_order("X"))
    co.scan(MILK, 3)
    assert co.phase is Phase.CART and [ln.product.sku for ln in co.cart.lines] == ["P005"]


def test_help_is_called_once(co):
    assert co.open_help(1) == [CallHelp(Phase.IDLE)]
    assert co.open_help(2) == []
    co.close_help(3)
    assert not co.help_open


def test_no_wallet_payment_while_the_gateway_is_unreachable(co):
    co.scan(WATER, 1)
    co.payments_available = False
    assert co.scan(ALIPAY, 2) == [Beep("error")] and co.notice.key == "payments_unavailable"
    co.tap_pay(3)
    assert co.tap_scan_to_pay(4) == [Beep("error")] and not co.paying
    co.payments_available = True
    assert isinstance(co.scan(ALIPAY, 5)[0], StartPayment)  # the code was not used up while refused


def test_a_wallet_the_gateway_does_not_take_is_refused_unused():
    co = Checkout(CATALOG, accepted=frozenset({"alipay"}))
    co.scan(WATER, 1)
    wechat = "134567890123456781"
    assert co.scan(wechat, 2) == [Beep("error")] and co.notice.key == "wallet_not_accepted" and not co.paying
    assert isinstance(co.scan(ALIPAY, 3)[0], StartPayment)


def test_help_pauses_the_idle_timer(co):
    """Issue 13, defect 1: staff called for help must not find the cart gone."""
    for code in (WATER, MILK, BAG):
        co.scan(code, 0)
    co.open_help(1)
    co.tick(1000)
    assert co.cart.totals().items == 3 and co.help_open and co.phase is Phase.CART
    assert co.idle_seconds_left(1000) is None  # no countdown behind the help box
    co.close_help(1001)
    co.tick(1001 + 59)
    assert co.cart  # the idle time counts again from when help closed
    co.tick(1001 + 61)
    assert not co.cart


def test_the_shopper_is_told_whether_money_moved(co):
    """Issue 13, defect 6: a gateway timeout is not the shopper's cancel; a settled failure says nothing was
    charged; an unsettled one makes no such promise."""
    co.scan(WATER, 1)
    co.scan(ALIPAY, 2)
    co.tap_cancel_payment(3)
    co.payment_finished(Outcome.CANCELLED, 4)
    assert co.notice.key == "payment_cancelled"
    co.scan("281234567890123452", 5)  # this time the gateway never confirms and the kiosk cancels it
    co.payment_finished(Outcome.CANCELLED, 6)
    assert co.notice.key == "payment_timed_out"
    co.scan("281234567890123453", 7)
    co.payment_finished(Outcome.FAILED, 8, reason="NOTENOUGH")
    assert co.notice.key == "payment_declined" and co.notice.params["reason"] == "NOTENOUGH"
    co.scan("281234567890123454", 9)
    co.payment_finished(Outcome.FAILED, 10, reason="ERROR:OperationalError", settled=False)
    assert co.notice.key == "payment_failed"  # the outcome is not known yet: no promise about the money


def test_changes_to_the_cart_speak(co):
    """Issue 13, defect 9: "Added" names the item and its price, quantities say what they are now."""
    co.scan(MILK, 1)
    assert co.notice.key == "added"
    assert co.notice.params["item"].sku == "P005" and co.notice.params["amount"] == 380
    assert (co.changed.sku, co.changed.kind) == ("P005", "added")
    co.scan(WATER, 2)
    co.scan(MILK, 3)
    assert (co.changed.sku, co.changed.kind, co.changed.seq) == ("P005", "more", 3)
    co.tap_plus("P001", 4)
    assert co.notice.key == "quantity" and co.notice.params["qty"] == 2 and co.changed.sku == "P001"
    co.tap_minus("P001", 5)
    assert co.notice.key == "quantity" and co.notice.params["qty"] == 1 and co.changed.kind == "fewer"


def test_a_removed_line_can_be_put_back_for_a_while(co):
    """Issue 13, defect 4: "×" and "−" at quantity 1 say what went, for how much, and offer Undo."""
    co.scan(WATER, 1)
    co.scan(MILK, 1)
    co.scan(MILK, 1)
    co.scan(BAG, 1)
    co.tap_remove("P005", 2)
    assert [ln.product.sku for ln in co.cart.lines] == ["P001", "P032"]
    assert co.notice.key == "removed" and co.notice.params["amount"] == 760
    assert co.notice.params["item"].name("zh_CN") == "纯牛奶 250ml"
    assert co.can_undo(2 + UNDO_S - 0.1)
    co.tap_undo(3)
    assert [(ln.product.sku, ln.qty) for ln in co.cart.lines] == [("P001", 1), ("P005", 2), ("P032", 1)]
    assert co.notice.key == "put_back" and co.changed.sku == "P005" and not co.can_undo(3)
    co.tap_minus("P001", 4)  # "−" at 1 removes, and can be undone too
    assert co.notice.key == "removed" and co.can_undo(5)
    co.tap_undo(4 + UNDO_S)  # too late
    assert [ln.product.sku for ln in co.cart.lines] == ["P005", "P032"]
    co.tap_remove("P032", 20)
    co.scan(WATER, 21)  # another change: Undo is for the latest change only
    assert not co.can_undo(21)


def test_start_over_asks_first(co):
    """Issue 13, defect 4: one tap on "Start over" does not empty a cart; the shopper is asked."""
    co.scan(WATER, 1)
    co.scan(MILK, 1)
    co.tap_start_over(2)
    assert co.confirming_start_over and co.cart.totals().items == 2
    co.keep_shopping(3)
    assert not co.confirming_start_over and co.cart.totals().items == 2
    co.tap_start_over(4)
    co.scan(BAG, 5)  # scanning on answers the question too
    assert not co.confirming_start_over and co.cart.totals().items == 3
    co.tap_start_over(6)
    co.confirm_start_over(7)
    assert not co.cart and co.phase is Phase.IDLE and not co.confirming_start_over


def test_the_e_receipt_code_stays_until_the_shopper_is_done(co):
    """Issue 13, defect 5: with no paper receipt the result screen does not time out after result_timeout_s."""
    co.scan(WATER, 1)
    co.scan(ALIPAY, 2)
    co.payment_finished(Outcome.PAID, 3, order=an_order("K01-261124-0001"))
    co.receipt_done("K01-261124-0001", False)
    co.tick(3 + 11)
    assert co.phase is Phase.RESULT and co.keeps_result
    assert co.idle_seconds_left(3 + 60 - 10) == 10  # the idle countdown asks if anyone is still there
    co.tick(3 + 60)
    assert co.phase is Phase.IDLE
    co.scan(WATER, 70)
    co.scan("281234567890123452", 71)
    co.payment_finished(Outcome.PAID, 72, order=an_order("K01-261124-0002"))
    co.receipt_done("K01-261124-0002", False)
    co.tap_done(73)
    assert co.phase is Phase.IDLE


def test_a_shopper_may_choose_no_paper_receipt(co):
    """Issue 13: "a shopper may choose 'no paper receipt'": the sale is recorded, nothing is printed, the
    e-receipt code stays until Done; the next shopper gets a paper receipt again."""
    from kiosk.checkout import NoPaperReceipt

    co.scan(WATER, 1)
    co.toggle_paper_receipt(2)
    assert not co.paper_receipt
    co.scan(ALIPAY, 3)
    order = an_order("K01-261124-0001")
    assert co.payment_finished(Outcome.PAID, 4, order=order) == [Beep("paid"), NoPaperReceipt(order)]
    assert co.receipt == "declined" and co.keeps_result
    co.tick(4 + 11)
    assert co.phase is Phase.RESULT
    co.tap_done(20)
    assert co.paper_receipt and co.phase is Phase.IDLE


# --- issue 13: age-restricted items, staff removals, voids and price overrides ---------------------------------
BEER = "6901234000184"


def test_an_age_restricted_item_waits_for_staff_before_any_payment(co):
    from kiosk.checkout import AgeCheckNeeded, StaffChange

    co.scan(WATER, 1)
    assert co.scan(BEER, 2) == [Beep("ok"), AgeCheckNeeded(("P018",))]
    assert co.notice.key == "age_restricted_added" and co.age_check_needed
    assert co.scan(BEER, 3) == [Beep("ok")]  # a second beer: staff were called already
    assert co.tap_pay(4) == [Beep("error")] and co.phase is Phase.CART and co.notice.key == "age_check_needed"
    assert co.scan(ALIPAY, 5) == [Beep("error")] and co.notice.key == "age_check_needed"
    assert co.approve_age(6) == [StaffChange("age_check_approved", {"skus": ["P018"]})]
    assert not co.age_check_needed and co.notice.key == "age_approved"
    co.scan(BEER, 7)
    assert not co.age_check_needed  # approved for this visit
    (start,) = co.scan(ALIPAY, 8)  # the code refused before the approval was not used up
    assert isinstance(start, StartPayment)
    co.payment_finished(Outcome.PAID, 9, order=an_order("K01-1"))
    co.tap_done(10)
    assert co.scan(BEER, 11) == [Beep("ok"), AgeCheckNeeded(("P018",))]  # the next shopper is checked again


def test_staff_decline_takes_only_the_restricted_items_off(co):
    from kiosk.checkout import StaffChange

    co.scan(WATER, 1)
    co.scan(BEER, 2)
    assert co.decline_age(3) == [StaffChange("age_check_declined", {"skus": ["P018"]})]
    assert [ln.product.sku for ln in co.cart.lines] == ["P001"] and not co.age_check_needed
    assert not co.can_undo(3.5) and co.tap_pay(4) == []  # no undo brings the beer back; paying goes on
    co.scan(BEER, 5)
    co.decline_age(6)
    assert co.phase is Phase.CART
    co2 = Checkout(CATALOG, now=0)
    co2.scan(BEER, 1)
    co2.decline_age(2)
    assert co2.phase is Phase.IDLE and not co2.cart


def test_a_store_fighting_shrink_lets_only_staff_take_items_off(co):
    from kiosk.checkout import StaffChange

    guarded = Checkout(CATALOG, removals_need_staff=True, now=0)
    guarded.scan(WATER, 1)
    guarded.scan(WATER, 2)
    for tap in (guarded.tap_minus, guarded.tap_remove):
        assert tap("P001", 3) == [CallHelp(Phase.CART)] and guarded.help_open  # staff are called
        assert guarded.cart.lines[0].qty == 2 and guarded.notice.key == "removal_needs_staff"
        guarded.close_help(4)
    assert guarded.staff_void("P001", 1, 5) == [
        StaffChange("line_voided", {"sku": "P001", "qty": 1, "amount": 200, "unit_price": 200})
    ]
    assert guarded.cart.lines[0].qty == 1 and not guarded.can_undo(5.1)
    guarded.staff_void("P001", MAX_QTY, 6)
    assert not guarded.cart and guarded.notice.key == "voided"
    co.scan(WATER, 1)  # the usual store: the shopper takes it off alone
    assert co.tap_remove("P001", 2) == [] and not co.cart


def test_staff_change_a_price_with_a_reason(co):
    from kiosk.checkout import StaffChange

    co.scan(MILK, 1)
    co.scan(MILK, 2)
    assert co.staff_price("P005", 300, "because", 3) == [] and co.totals().total == 760  # no reason, no change
    assert co.staff_price("P005", 300, "damaged", 4) == [
        StaffChange("price_override", {"sku": "P005", "qty": 2, "from": 380, "to": 300, "reason": "damaged"})
    ]
    assert co.totals().total == 600 and co.notice.key == "repriced"
    co.scan(MILK, 5)  # the same line, at the price staff set
    assert co.totals().total == 900 and len(co.cart.lines) == 1
    co.tap_pay(6)
    assert co.staff_price("P005", 100, "damaged", 7) == [] and co.staff_void("P005", 1, 7) == []  # not while paying


def test_large_text_is_this_shoppers_choice(co):
    co.scan(WATER, 1)
    co.toggle_large_text(2)
    assert co.large_text
    co.tap_start_over(3)
    co.confirm_start_over(4)
    assert not co.large_text  # the next shopper starts with the standard size


def test_staff_cannot_change_an_order_made_elsewhere(co):
    """Its lines are paid as ordered (as the shopper's − + × are refused): no void, no new price."""
    from kiosk.online_order import OnlineOrder

    order = OnlineOrder("W-1", "s1", "CNY", 760, False, (("纯牛奶", 2, 380),), 2_000_000_000)
    co.open_online_order(order, None, 1)
    sku = co.cart.lines[0].product.key
    assert co.staff_void(sku, 1, 2) == [] and co.staff_price(sku, 100, "damaged", 3) == []
    assert co.cart.lines[0].qty == 2 and co.totals().total == 760
