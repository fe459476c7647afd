"""Coverage-guided fuzzing of the frame parser and the dispatcher, with atheris (`make fuzz`).

    python tests/fuzz/fuzz_frames.py tests/fuzz/corpus -dict=tests/fuzz/ocpp.dict \
        -max_total_time=600

New inputs that reach new code land in the corpus folder given first; `make test` replays the
whole corpus (tests/unit/test_fuzz_corpus.py). At the end it prints how many inputs ran, how
many were CALLs and answered, every 20,000 inputs; an input that breaks a rule stops the run
with the input written out (libFuzzer's crash-* file).
"""

from __future__ import annotations

import logging
import sys
import time

import atheris

with atheris.instrument_imports(include=["ocpp_station"]):
    from tests.fuzz.frames_target import FrameTarget

TARGET = FrameTarget()
STARTED = time.monotonic()
REPORT_EVERY = 20_000


def one_input(data: bytes) -> None:
    TARGET.feed(data)
    if TARGET.inputs % REPORT_EVERY == 0:
        report()


def report() -> None:
    seconds = time.monotonic() - STARTED
    print(
        f"fuzz: {TARGET.inputs} frames in {seconds:.0f} s, {TARGET.calls_answered} CALLs "
        "answered once each, 0 rule broken",
        flush=True,
    )


if __name__ == "__main__":
    logging.disable(logging.CRITICAL)  # a station under fuzzing logs every refusal
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
