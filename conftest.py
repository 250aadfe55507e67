"""Project-wide pytest configuration: the plugin's own tests drive inner sessions with pytester."""

pytest_plugins = ["pytester"]

# Each foreign stack is a project of its own, run from its folder with its own pytest.ini.
collect_ignore = ["tests/stacks"]
