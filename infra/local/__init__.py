"""The local stack: moto in server mode, sinks, the event pump and the Chalice app, in one process."""
