"""The kiosk's runtime: `wiring` builds and starts everything; `controller` is the UI thread's side of it;
`view` is what the screens read and send.

Layers point one way (tests/test_layers.py fails otherwise):
UI (kiosk.ui) -> runtime (here) -> services (kiosk.services, kiosk.payments,
kiosk.reconcile, kiosk.telemetry, kiosk.receipts) -> store (kiosk.store) ->
domain (checkout, codes, catalog, money, orders, attendant...).  Hardware
backends are picked and built only by `wiring`; everybody else sees devices
through the seams in `hardware` (callbacks, printer status and errors).

Who owns which thread, and what it may touch:

| thread               | runs                                       | may touch                                 |
|----------------------|--------------------------------------------|-------------------------------------------|
| UI (main)            | pygame loop; Controller.pump/act/snapshot  | Checkout, Attendant, controller state;    |
|                      |                                            | hands work to workers, never waits on I/O |
| scanner, camera      | hardware.reader.ReconnectingReader session | its own device; posts CodeRead/DeviceStatus|
| camera-grab          | the camera's newest-frame grabber          | the frame source only                     |
| gpio (gpiozero's)    | the help button's callback                 | posts HelpPressed                         |
| worker payment       | PaymentService: the shopper's payment      | driver, gateway, store; posts progress    |
| worker back-office   | refunds, refund look-ups, reconciliation   | driver, gateway, store; posts notices     |
| worker printer       | PrintService: render and print             | printer, store; posts PrintDone           |
| worker store-io      | events, PIN lockout, the sandbox's wallet  | store (and the sandbox gateway)           |
| recovery             | RecoveryLoop: open payments/refunds, disk  | driver, gateway, store; posts state       |
| housekeeping         | Housekeeping: prune outbox and previews,   | store (small transactions), data/receipts |
|                      | give free pages back, warn of a full disk  |                                           |
| MQTT (paho's loop)   | MqttLink: outbox, head office's commands   | store; HeadOfficeCommands, which hands    |
|                      |                                            | long work to the back-office worker       |

Every thread has its own SQLite connection (the store hands them out per
thread).  A worker job that raises becomes a `JobFailed` event; a device
error becomes a `DeviceStatus`; nothing a thread does is lost silently.
"""
