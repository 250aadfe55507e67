"""The pytest-free core: bring a compose stack up, prove it ready, describe it, take it down."""
