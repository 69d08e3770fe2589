"""The bounded model queue on its own: how many may wait, and for how long."""

from __future__ import annotations

import threading

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
    # Until answers are timed, each is assumed to take DEFAULT_ANSWER_SECONDS (10 s).
    queue = AnswerQueue(workers=1, max_queue=8, max_wait_s=2.5 * DEFAULT_ANSWER_SECONDS)
    release = threading.Event()
    try:
        _blocked(queue, release, 3)  # one running and two waiting: a fourth would wait ~30 s
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
