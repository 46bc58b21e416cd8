from __future__ import annotations

import personae.monitor as monitor_package


def test_monitor_api_is_exactly_all_and_sorted():
    public = {n for n in dir(monitor_package) if not n.startswith("_")}
    modules = {"drift", "governance", "matching", "monitor", "outputs", "page", "reference",
               "stats", "transitions", "tracking"}
    assert public - (modules - set(monitor_package.__all__)) == set(monitor_package.__all__)
    assert monitor_package.__all__ == sorted(monitor_package.__all__)
