"""The touchscreen: a pygame loop that renders the kiosk's state and turns touches into calls."""
