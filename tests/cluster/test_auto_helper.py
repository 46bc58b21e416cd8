"""auto's helper process: the same choice and table as threads alone, used only where a fork
is safe, and never a lost candidate when it fails."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ProcessPoolExecutor

import pytest

from generated import blobs
from personae.cluster.auto import choose_algorithm, comparison_helper


def _without_seconds(choice):  # type: ignore[no-untyped-def]
    return choice.table.drop(columns=["seconds"])


def test_the_helper_process_fits_candidates_and_the_choice_is_the_same() -> None:
    # A process of its own: this test's runner has threads, and then no helper is forked.
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, "tests")
        import pandas as pd
        from generated import rings
        from personae.cluster.auto import choose_algorithm, comparison_helper

        class Counting:
            def __init__(self, helper):
                self.helper, self.jobs = helper, 0
            def submit(self, *args):
                self.jobs += 1
                return self.helper.submit(*args)

        X, _ = rings()
        alone = choose_algorithm(X, k_range=(2, 6))
        with comparison_helper() as helper:
            assert helper is not None, "no helper in a single-threaded process on Linux"
            counting = Counting(helper)
            helped = choose_algorithm(X, k_range=(2, 6), helper=counting)
        assert counting.jobs >= 2, counting.jobs
        pd.testing.assert_frame_equal(alone.table.drop(columns="seconds"),
                                      helped.table.drop(columns="seconds"))
        assert (alone.name, alone.params, alone.why) == (helped.name, helped.params, helped.why)
        print("jobs in the helper:", counting.jobs)
    """)
    if sys.platform != "linux":
        pytest.skip("the helper is forked on Linux only")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "jobs in the helper:" in done.stdout


def test_no_helper_is_forked_beside_other_threads() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with comparison_helper() as helper:
            assert helper is None
    finally:
        stop.set()
        other.join()
    with comparison_helper(wanted=False) as helper:
        assert helper is None


def test_a_failed_helper_loses_no_candidate(caplog: pytest.LogCaptureFixture) -> None:
    X, _ = blobs()
    broken = ProcessPoolExecutor(1)
    broken.shutdown()  # submit now raises: the thread must fit its candidates itself
    alone = choose_algorithm(X, candidates=("kmeans", "gmm", "hdbscan"), k_range=(2, 5))
    with caplog.at_level(logging.WARNING, logger="personae.cluster.auto"):
        helped = choose_algorithm(X, candidates=("kmeans", "gmm", "hdbscan"), k_range=(2, 5),
                                  helper=broken)
    assert "helper process failed" in caplog.text
    assert _without_seconds(alone).equals(_without_seconds(helped))
    assert alone.name == helped.name



def test_segment_hands_auto_the_callers_helper() -> None:
    # The command line forks its helper before its progress display starts a thread, and
    # hands it to segment(); any Executor serves (threads here: this runner has threads).
    from concurrent.futures import ThreadPoolExecutor

    from generated import blob_users
    from personae import segment

    class Counting(ThreadPoolExecutor):
        jobs = 0

        def submit(self, *args, **kwargs):  # type: ignore[no-untyped-def, override]
            Counting.jobs += 1
            return super().submit(*args, **kwargs)

    frame, _ = blob_users(n=1500, k=4)
    alone = segment(frame)
    with Counting(2) as helper:
        helped = segment(frame, helper=helper)
    assert Counting.jobs >= 6  # every candidate, and each distinct labelling's scores
    assert helped.algorithm["name"] == alone.algorithm["name"]
    assert (helped.labels == alone.labels).all()
