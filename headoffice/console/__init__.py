"""Head office's web console: server-rendered pages (Jinja2) for the fleet, orders, statistics, reconciliation,
alerts and the audit log, and the operators' actions.  headoffice/web.py mounts it; the pages' queries are in
headoffice/queries.py and headoffice/stats.py."""
