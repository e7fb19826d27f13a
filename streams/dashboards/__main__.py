"""``python -m streams.dashboards``: regenerate ``dashboards/*.json``."""

from streams.dashboards.render import main

main()
