"""The bounded model queue on its own: how many may wait, and for how long."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from qa.api.jobs import DEFAULT_ANSWER_SECONDS, AnswerQueue, QueueFull
from qa.types import Answer


def _blocked(queue: AnswerQueue, release: threading.Event, n: int) -> None:
    def work() -> Answer:
        release.wait(timeout=30)
        raise RuntimeError("released")

    for _ in range(n):
        queue.submit(work)


def test_a_question_is_refused_when_its_expected_wait_is_too_long_though_the_queue_has_room() -> None:
    # Until answers are timed, each is assumed to take DEFAULT_ANSWER_SECONDS (30 s).
    queue = AnswerQueue(workers=1, max_queue=8, max_wait_s=2.5 * DEFAULT_ANSWER_SECONDS)
    release = threading.Event()
    try:
        _blocked(queue, release, 3)  # one running, two waiting: a fourth waits ~3 answers, over the 2.5 bound
        with pytest.raises(QueueFull) as refused:
            queue.submit(lambda: pytest.fail("must not run"))
        assert refused.value.retry_after >= 25
    finally:
        release.set()
        queue.shutdown()


def test_without_a_wait_bound_the_queue_length_alone_decides() -> None:
    queue = AnswerQueue(workers=1, max_queue=3)
    release = threading.Event()
    try:
        _blocked(queue, release, 4)  # one running and three waiting: full
        with pytest.raises(QueueFull):
            queue.submit(lambda: pytest.fail("must not run"))
    finally:
        release.set()
        queue.shutdown()


class FakeClock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _wait_until_running(queue: AnswerQueue) -> None:
    for _ in range(500):
        if queue.stats()["running"] == queue.workers:
            return
        threading.Event().wait(0.01)
    pytest.fail("the blocked question never started")


def test_the_wait_estimate_takes_the_slowest_recent_answer_less_the_time_already_spent() -> None:
    clock = FakeClock()
    queue = AnswerQueue(workers=1, max_queue=8, max_wait_s=25, clock=clock)
    release = threading.Event()

    def answered_in(seconds: float) -> Callable[[], Answer]:
        def work() -> Answer:
            clock.now += seconds
            raise RuntimeError("timed")

        return work

    try:
        for seconds in (2.0, 20.0, 3.0):  # an average would say ~8 s; the slowest says 20 s
            job = queue.submit(answered_in(seconds))
            assert isinstance(job.future.exception(timeout=10), RuntimeError)
        _blocked(queue, release, 1)
        _wait_until_running(queue)
        queue.submit(answered_in(0.0))  # waits ~20 s: admitted
        with pytest.raises(QueueFull) as refused:  # would wait ~40 s
            queue.submit(answered_in(0.0))
        assert refused.value.retry_after == 40
        clock.now += 16  # the running answer has 4 s left: 4 + 20 s ahead
        queue.submit(answered_in(0.0))
    finally:
        release.set()
        queue.shutdown()
