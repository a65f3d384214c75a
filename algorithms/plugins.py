"""The explicit list of algorithm modules; importing one registers it."""
# Each line imports one module whose classes are decorated with @registry.register.
# Keep the list sorted; add a module here when it lands.
