"""`python -m headoffice [--config hq.toml]`: run head office.  Also:

python -m headoffice cmd STORE/KIOSK NAME ['{"json": "data"}'] [--wait S]   send a command, print its result
python -m headoffice kiosks                                                the fleet, one line a kiosk
python -m headoffice order ORDER_NO                                        one order and its timeline
python -m headoffice alerts                                                the open alerts
python -m headoffice keygen PREFIX                                         head office's signing key pair
python -m headoffice catalog import FILE.csv|FILE.xlsx                     check a catalog file, then store it
python -m headoffice catalog export FILE.csv|FILE.xlsx                     head office's catalog as a file
python -m headoffice catalog publish [--store S]...                        a new version for the stores' kiosks
python -m headoffice stock count FILE.csv | show STORE | return STORE/KIOSK ORDER_NO   stock per store
python -m headoffice apiclient NAME                                        a token for the HTTP API (online orders)
python -m headoffice adduser NAME [--role viewer|operator|admin]           a console user (password from stdin)
python -m headoffice ca DIR                                                a kiosk CA for pairing (DIR/kiosk-ca.*)
python -m headoffice pair CODE --store S --kiosk K [--prefix P]            pair the kiosk showing CODE
python -m headoffice pairing                                               the kiosks waiting to be paired
python -m headoffice pair-qr --store S --kiosk K [--out FILE.svg]          a signed QR for a kiosk offline today
python -m headoffice rotate-cert STORE/KIOSK                               a kiosk's new MQTT certificate
python -m headoffice release-send BUNDLE SIDECAR STORE/KIOSK...            a firmware release to kiosks
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m headoffice", description="head office for the kiosks")
    ap.add_argument("--config", help="hq.toml (default: embedded: SQLite in ./hq-data, broker on 127.0.0.1:1883)")
    sub = ap.add_subparsers(dest="what")
    c = sub.add_parser("cmd", help="send a command to a kiosk and wait for its result")
    c.add_argument("kiosk", help="STORE/KIOSK")
    c.add_argument("name")
    c.add_argument("data", nargs="?", default="{}")
    c.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the answer (0: don't)")
    sub.add_parser("kiosks", help="the fleet")
    o = sub.add_parser("order", help="one order and its timeline")
    o.add_argument("order_no")
    sub.add_parser("alerts", help="open alerts")
    k = sub.add_parser("keygen", help="make PREFIX.key (head office, 0600) and PREFIX.pub (for the kiosks)")
    k.add_argument("prefix")
    cat = sub.add_parser("catalog", help="import or export the chain's catalog (CSV or XLSX; see README)")
    cat.add_argument("action", choices=("import", "export", "publish"))
    cat.add_argument("file", nargs="?", default="", help="the CSV or XLSX file (import, export)")
    cat.add_argument("--store", action="append", help="publish for this store (default: every store known)")
    au = sub.add_parser("adduser", help="a user of the web console; the password is read from stdin (or asked)")
    au.add_argument("name")
    au.add_argument("--role", default="viewer", choices=("viewer", "operator", "admin"))
    ac = sub.add_parser("apiclient", help="a client of the HTTP API (a web shop): prints its token, once")
    ac.add_argument("name")
    st = sub.add_parser("stock", help="stock counts, levels, goods returned to the shelf")
    st.add_argument("action", choices=("count", "show", "return"))
    st.add_argument("target", help="count: a CSV (store,sku,qty[,low]); show: a store; return: STORE/KIOSK")
    st.add_argument("order_no", nargs="?", default="", help="return: the refunded order whose goods are back")
    ca = sub.add_parser("ca", help="make a kiosk CA for pairing: DIR/kiosk-ca.key (0600) and DIR/kiosk-ca.pem")
    ca.add_argument("dir")
    pa = sub.add_parser("pair", help="pair the kiosk whose screen shows CODE")
    pa.add_argument("code")
    pa.add_argument("--store", required=True)
    pa.add_argument("--kiosk", required=True)
    pa.add_argument("--prefix", default="", help="its order numbers' prefix (default: K and the kiosk's digits)")
    sub.add_parser("pairing", help="the kiosks waiting to be paired")
    qr = sub.add_parser("pair-qr", help="a signed provisioning QR for a kiosk that cannot reach head office yet")
    qr.add_argument("--store", required=True)
    qr.add_argument("--kiosk", required=True)
    qr.add_argument("--prefix", default="")
    qr.add_argument("--days", type=float, default=7.0, help="how long its token is good (default 7)")
    qr.add_argument("--out", default="", help="FILE.svg: the QR to print or show (the text is printed too)")
    rs = sub.add_parser("release-send", help="send kiosks a firmware release (python -m provisioning.release build)")
    rs.add_argument("bundle")
    rs.add_argument("sidecar", help="kiosk-<version>.json: its signed manifest")
    rs.add_argument("kiosks", nargs="+", metavar="STORE/KIOSK")
    rs.add_argument("--wait", type=float, default=120.0, help="seconds to wait for each kiosk's answer")
    ro = sub.add_parser("rotate-cert", help="a kiosk's new MQTT certificate, for a new key it makes itself")
    ro.add_argument("kiosk", help="STORE/KIOSK")
    ro.add_argument("--wait", type=float, default=60.0, help="seconds to wait for each of the kiosk's answers")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from headoffice.config import ConfigError, load

    try:
        cfg = load(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    if args.what == "keygen":
        from headoffice.signing import keygen

        try:
            private, public = keygen(args.prefix)
        except FileExistsError as exc:
            print(f"{exc.filename} exists already; not overwritten", file=sys.stderr)
            return 1
        print(f"{private} (head office: commands.private_key_file)\n{public} (each kiosk: mqtt.hq_public_key_file)")
        return 0
    if args.what in ("kiosks", "order", "alerts"):
        from headoffice import queries

        engine = database(cfg)
        if args.what == "kiosks":
            for k in queries.fleet(engine):
                print(json.dumps(k, ensure_ascii=False, default=str))
        elif args.what == "alerts":
            for a in queries.alerts(engine):
                print(json.dumps(a, ensure_ascii=False, default=str))
        else:
            found = queries.order(engine, args.order_no)
            if not found:
                print(f"no order {args.order_no}", file=sys.stderr)
                return 1
            for o in found:
                print(json.dumps(o, ensure_ascii=False, default=str, indent=1))
        return 0
    if args.what == "catalog":
        if args.action == "publish":
            return publish_catalog(cfg, args.store)
        if not args.file:
            print(f"catalog {args.action}: name the file", file=sys.stderr)
            return 2
        return catalog_file(cfg, args.action, args.file)
    if args.what == "adduser":
        import getpass

        from headoffice import users

        password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
        engine = database(cfg)
        try:
            users.add_user(engine, args.name, args.role, password)
        except users.UserError as exc:
            print(f"adduser: {exc}", file=sys.stderr)
            return 1
        print(f"{args.name}: {args.role}")
        return 0
    if args.what == "apiclient":
        from headoffice import online_orders

        engine = database(cfg)
        try:
            token = online_orders.add_client(engine, args.name)
        except online_orders.OrderError as exc:
            print(f"apiclient: {exc}", file=sys.stderr)
            return 1
        print(f"{args.name}: {token}\n(keep it secret: head office keeps only its hash; it is not shown again)")
        return 0
    if args.what == "stock":
        return stock_command(cfg, args.action, args.target, args.order_no)
    if args.what in ("ca", "pair", "pairing", "pair-qr"):
        return pairing_command(cfg, args)
    if args.what == "cmd":
        return send_command(cfg, args)
    if args.what == "rotate-cert":
        return rotate_cert(cfg, args.kiosk, args.wait)
    if args.what == "release-send":
        return release_send(cfg, args)
    return run(cfg)


def database(cfg):
    """Head office's database, its schema brought up to date (every command-line use starts here)."""
    from headoffice.db import make_engine
    from headoffice.migrate import upgrade

    engine = make_engine(cfg.database.url)
    upgrade(engine)
    return engine


def run(cfg) -> int:
    from headoffice.service import Service

    try:
        service = Service(cfg)
        ttl, pairs = (cfg.pairing.code_ttl_s, authority(cfg)) if cfg.pairing.ca_cert_file else (None, None)
    except ValueError as exc:  # a key or the kiosk CA that does not load (PairingError is one)
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    service.start()
    logging.getLogger("headoffice").info("head office running: %s, database %s", cfg.topic_filter, _safe(cfg))
    web = None
    if cfg.http.enabled:
        from headoffice.web import WebServer, make_app

        h = cfg.http
        app = make_app(
            service.engine,
            service.key,
            h.order_qr_days,
            h.secure_cookies,
            service.commands,
            h.time_zone,
            ttl,
            pairs,
            cfg.commands.releases_dir,
        )
        web = WebServer(app, cfg.http.host, cfg.http.port)
        web.start()
        logging.getLogger("headoffice").info("head office's HTTP API on http://%s:%d", cfg.http.host, cfg.http.port)
    done.wait()
    if web is not None:
        web.stop()
    service.stop()
    return 0


def authority(cfg):
    """What head office pairs kiosks with (its [pairing] section, its command key, its HTTP address)."""
    from headoffice.pairing import Authority, PairingError, public_key_pem
    from headoffice.signing import load_key

    p = cfg.pairing
    if not p.ca_cert_file or not p.ca_key_file:
        raise PairingError("pairing.ca_cert_file and pairing.ca_key_file: not set (python -m headoffice ca DIR)")
    try:
        key = load_key(cfg.commands.private_key_file)
    except ValueError as exc:
        raise PairingError(f"commands.private_key_file: {exc}") from None
    return Authority.load(
        p.ca_cert_file,
        p.ca_key_file,
        p.broker_host or cfg.mqtt.host,
        p.broker_port,
        p.broker_ca_file,
        hq_public_key_pem=public_key_pem(key),
        hq_url=cfg.http.base_url,
        cert_days=p.cert_days,
        store_config_dir=p.store_config_dir,
    )


def pairing_command(cfg, args) -> int:
    from headoffice import pairing

    if args.what == "ca":
        try:
            key, cert = pairing.make_ca(args.dir)
        except FileExistsError as exc:
            print(f"{exc.filename} exists already; not overwritten", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"{args.dir}: {exc.strerror}", file=sys.stderr)
            return 2
        print(f"{key} (pairing.ca_key_file, keep it 0600)\n{cert} (pairing.ca_cert_file; the broker's cafile)")
        return 0
    engine = database(cfg)
    if args.what == "pairing":
        for w in pairing.waiting(engine):
            print(json.dumps(w, default=str))
        return 0
    import getpass

    who = f"cli:{getpass.getuser()}"
    if args.what == "pair-qr":
        from headoffice.signing import load_key

        try:
            key = load_key(cfg.commands.private_key_file)
            if key is None:
                raise pairing.PairingError("commands.private_key_file is not set: the QR is signed with it")
            text = pairing.provisioning_qr(engine, authority(cfg), key, args.store, args.kiosk, args.prefix, who,
                                           args.days)  # fmt: skip
        except (pairing.PairingError, ValueError) as exc:
            print(f"pair-qr: {exc}", file=sys.stderr)
            return 1
        if args.out:
            import qrcode
            import qrcode.image.svg

            qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage).save(args.out)
            print(f"{args.out}: show it to the kiosk's camera (its token is good for {args.days:g} days)")
        print(text)
        return 0
    try:
        done = pairing.approve(engine, authority(cfg), args.code, args.store, args.kiosk, args.prefix, by=who)
    except pairing.PairingError as exc:
        print(f"pair: {exc}", file=sys.stderr)
        return 1

    print(f"paired {done['store']}/{done['kiosk']} (serial {done['serial']}), order prefix {done['order_prefix']}")
    print("the kiosk collects its identity and certificate within a few seconds, then starts selling")
    return 0


def catalog_file(cfg, action: str, file: str) -> int:
    from pathlib import Path

    from headoffice import catalog

    engine = database(cfg)
    path = Path(file)
    if action == "export":
        print(f"{catalog.export_file(engine, path)} products written to {path}")
        return 0
    if not path.is_file():
        print(f"{path}: no such file", file=sys.stderr)
        return 2
    try:
        done = catalog.import_file(engine, path)
    except catalog.CatalogFileError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: {done.products} products, {done.barcodes} barcodes, {done.store_prices} store prices imported")
    return 0


def publish_catalog(cfg, stores: list[str] | None) -> int:
    from headoffice import pictures, publish
    from headoffice.signing import load_key

    try:
        key = load_key(cfg.commands.private_key_file)
        if key is None:
            raise ValueError("commands.private_key_file is not set: kiosks accept only catalogs head office signed")
        engine = database(cfg)
        for problem in pictures.prepare(engine, cfg.catalog.pictures_dir):
            print(f"no picture: {problem}", file=sys.stderr)
        bundles = publish.publish(engine, key, stores)
    except ValueError as exc:
        print(f"cannot publish: {exc}", file=sys.stderr)
        return 2
    for b in bundles:
        print(f"{b.store}: catalog {b.label} ({b.size} bytes), sent to its kiosks by the running head office")
    return 0


def stock_command(cfg, action: str, what: str, order_no: str) -> int:
    from pathlib import Path

    from headoffice import stock

    engine = database(cfg)
    try:
        if action == "count":
            n = stock.set_counts(engine, stock.read_counts(Path(what)))
            print(f"{n} counts set")
        elif action == "show":
            for row in stock.levels(engine, what):
                print(json.dumps(row, ensure_ascii=False))
        else:
            store, kiosk = what.split("/")
            back = stock.return_to_shelf(engine, store, kiosk, order_no)
            print(json.dumps(back, ensure_ascii=False) if back else f"{order_no} was returned to the shelf already")
    except (OSError, ValueError) as exc:
        print(f"stock {action}: {exc}", file=sys.stderr)
        return 1
    return 0


def send_command(cfg, args) -> int:
    try:
        store, kiosk = args.kiosk.split("/")
        data = json.loads(args.data)
        if not isinstance(data, dict):
            raise ValueError("the data must be a JSON object")
    except ValueError as exc:
        print(f"cannot send: {exc}", file=sys.stderr)
        return 2
    try:
        row = command_and_answer(cfg, store, kiosk, args.name, data, args.wait)
    except ValueError as exc:
        print(f"cannot send: {exc}", file=sys.stderr)
        return 2
    if row is None:
        if args.wait:
            print(f"no answer within {args.wait:.0f} s (head office keeps waiting; see `python -m headoffice kiosks`)")
            return 3
        return 0
    print(json.dumps({"ok": row["ok"], "result": row["result"]}, ensure_ascii=False))
    return 0 if row["ok"] else 1


def command_and_answer(cfg, store: str, kiosk: str, name: str, data: dict, wait: float) -> dict | None:
    """Send a signed command and wait up to `wait` seconds for the kiosk's answer (head office's service stores
    it): the command's row once answered, else None.  ValueError when it cannot be sent."""
    import paho.mqtt.client as mqtt

    from headoffice.commands import Commands
    from headoffice.signing import load_key

    key = load_key(cfg.commands.private_key_file)
    engine = database(cfg)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"hq-cli-{time.time_ns()}")
    client.connect(cfg.mqtt.host, cfg.mqtt.port)
    client.loop_start()
    try:
        cmd_id = Commands(engine, client, key).send(store, kiosk, name, data)
    finally:
        time.sleep(0.2)
        client.disconnect()
        client.loop_stop()
    print(f"sent {name} to {store}/{kiosk}: id {cmd_id}")
    end = time.monotonic() + wait
    commands = Commands(engine, client, key)
    while time.monotonic() < end:
        row = commands.result(cmd_id)
        if row and row["state"] == "answered":
            return row
        time.sleep(0.2)
    return None


def release_send(cfg, args) -> int:
    """A release to kiosks: kept where head office's HTTP API serves it, then `cmd/update` to each; each answers once
    it has fetched and checked it (it installs it between shoppers and reports how that went)."""
    from pathlib import Path

    from headoffice import releases

    engine = database(cfg)
    try:
        data = releases.publish(engine, cfg.commands.releases_dir, Path(args.bundle), Path(args.sidecar),
                                cfg.http.base_url)  # fmt: skip
    except (releases.ReleaseError, OSError) as exc:
        print(f"release-send: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for target in args.kiosks:
        store, _, kiosk = target.partition("/")
        try:
            row = command_and_answer(cfg, store, kiosk, "update", data, args.wait)
        except ValueError as exc:
            print(f"{target}: cannot send: {exc}", file=sys.stderr)
            failed += 1
            continue
        if row is None or not row["ok"]:
            failed += 1
        print(f"{target}: {json.dumps(row and row['result'], ensure_ascii=False)}")
    return 1 if failed else 0


def rotate_cert(cfg, target: str, wait: float) -> int:
    """A kiosk's new MQTT certificate: it makes a key and sends its signing request; head office signs it with
    the kiosk CA (the same account, CN {store}-{kiosk}) and sends the certificate; the kiosk puts it in place."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from headoffice import pairing

    try:
        store, kiosk = target.split("/")
        issuer = authority(cfg)
        asked = command_and_answer(cfg, store, kiosk, "rotate-cert", {}, wait)
        if asked is None or not asked["ok"]:
            print(f"rotate-cert: the kiosk made no new key: {asked and asked['result']}", file=sys.stderr)
            return 1
        csr = pairing.checked_csr(asked["result"]["csr"])
        serial = csr.subject.get_attributes_for_oid(x509.oid.NameOID.SERIAL_NUMBER)
        cert = pairing.sign(issuer, csr, f"{store}-{kiosk}", str(serial[0].value) if serial else "", time.time())
        pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        done = command_and_answer(cfg, store, kiosk, "rotate-cert", {"certificate": pem}, wait)
    except (ValueError, KeyError, TypeError) as exc:
        print(f"rotate-cert: {exc}", file=sys.stderr)
        return 2
    if done is None or not done["ok"]:
        print(f"rotate-cert: the kiosk did not take the certificate: {done and done['result']}", file=sys.stderr)
        return 1
    print(f"{store}/{kiosk}: new certificate, good until {done['result'].get('not_after')}")
    return 0


def _safe(cfg) -> str:
    from sqlalchemy.engine import make_url

    return make_url(cfg.database.url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
