"""Project-wide pytest configuration: the plugin's own tests drive inner sessions with pytester."""

pytest_plugins = ["pytester"]
