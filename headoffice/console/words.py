"""Words the console shows from the data (states, roles, devices, channels, timeline steps, login refusals): listed
here so the catalogs' extraction finds them; the templates translate them with `_(value)`."""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark, don't translate yet"
    return message


WORDS = (
    # kiosk states
    N_("online"), N_("offline"), N_("lost"), N_("locked"), N_("unknown"),
    # roles
    N_("viewer"), N_("operator"), N_("admin"),
    # devices
    N_("scanner"), N_("camera"), N_("printer"), N_("gateway"), N_("mqtt"),
    # channels
    N_("alipay"), N_("wechat"), N_("unionpay"), N_("emvco"),
    # receipts
    N_("printed"), N_("not_printed"), N_("reprinted"),
    # an order's timeline
    N_("created"), N_("paid"), N_("stored"), N_("acknowledged"), N_("receipt_printed"), N_("receipt_not_printed"),
    N_("receipt_reprinted"), N_("refund_submitting"), N_("refund_refunded"), N_("refund_failed"), N_("reconciled"),
    # commands and refunds
    N_("sent"), N_("answered"), N_("no_answer"), N_("REFUNDED"), N_("FAILED"), N_("SUBMITTING"), N_("UNKNOWN"),
    # the orders' search
    N_("refunded"), N_("part_refunded"), N_("receipt_failed"),
    # login (headoffice/users.py)
    N_("wrong name or password"), N_("too many wrong passwords: try again in %(s)d s"),
)  # fmt: skip
