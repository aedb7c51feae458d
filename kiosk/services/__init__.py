"""The kiosk's services: work done off the UI thread, each behind a small class with its own tests.

`printing` (receipts, reprints, reports, test pages), `refunds` (head office's
and the attendant's), `office` (head office's commands).  The payment driver
(`kiosk.payments`), reconciliation (`kiosk.reconcile`) and the head-office link
(`kiosk.telemetry`) are services too.  They report to the UI thread through the
events in `events` and run their jobs on the `jobs.Worker`s the runtime gives
them.  Services import the store and the domain, never the runtime or the UI.
"""
