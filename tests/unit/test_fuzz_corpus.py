"""Every input the fuzzer kept (tests/fuzz/corpus, grown by `make fuzz`), fed to a station:
none may break a rule of tests/fuzz/frames_target.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.frames_target import FrameTarget

CORPUS = Path(__file__).resolve().parents[1] / "fuzz" / "corpus"


@pytest.fixture
def target() -> Iterator[FrameTarget]:
    logging.disable(logging.WARNING)
    target = FrameTarget()
    try:
        yield target
    finally:
        target.close()
        logging.disable(logging.NOTSET)


def test_the_corpus_is_there() -> None:
    assert len(list(CORPUS.iterdir())) >= 40


def test_every_kept_input_keeps_the_rules(target: FrameTarget) -> None:
    files = sorted(CORPUS.iterdir())
    for path in files:
        target.feed(path.read_bytes())  # raises Violation naming the input's answers
    assert target.inputs == len(files)
