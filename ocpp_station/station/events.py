"""What happened inside the station, told to whoever listens: the back edges between services.

A service that has news (a transaction started, a meter was read, the central system accepted
the station) emits it here; a service that cares connects to it. Neither holds a reference to
the other, and a profile added later listens without touching the emitter.

Listeners run synchronously, in the order they connected, inside whatever the emitter is doing:
a listener of `transaction_started` writes in the same store transaction as the start itself.
An exception propagates to the emitter, as a direct call's would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, ParamSpec

if TYPE_CHECKING:
    from ocpp_station.hardware.interfaces import MeterReading
    from ocpp_station.station.connector import Connector, Transaction

P = ParamSpec("P")


class Signal(Generic[P]):
    """One kind of news and its listeners."""

    __slots__ = ("_listeners",)

    def __init__(self) -> None:
        # A tuple: the empty one is shared, so a signal nobody listens to costs nothing more.
        self._listeners: tuple[Callable[P, None], ...] = ()

    def connect(self, listener: Callable[P, None]) -> None:
        self._listeners = (*self._listeners, listener)

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for listener in self._listeners:
            listener(*args, **kwargs)


class Events:
    """The station's signals. A profile that needs news of its own keeps its Signal in its
    package; these are the ones the Core emits."""

    __slots__ = (
        "accepted",
        "clock_set",
        "meter_sampled",
        "physical_changed",
        "security_event",
        "station_status_changed",
        "status_changed",
        "transaction_ended",
        "transaction_ending",
        "transaction_started",
        "transaction_starting",
    )

    def __init__(self) -> None:
        # BootNotification answered Accepted (§4.2): registered from now on.
        self.accepted: Signal[[]] = Signal()
        # The wall clock was set from the central system's currentTime.
        self.clock_set: Signal[[]] = Signal()
        # A transaction is about to begin: inside the start's store transaction, before its
        # StartTransaction is built. A listener may claim it (a reservation it uses sets
        # `reservation_id`, which the StartTransaction then carries, §5.13).
        self.transaction_starting: Signal[[Transaction]] = Signal()
        # A transaction began, with the meter reading of its start; inside the start's store
        # transaction, before the StartTransaction can go.
        self.transaction_started: Signal[[Transaction, MeterReading]] = Signal()
        # A transaction is ending, with the reading of its end; inside the stop's store
        # transaction, before its StopTransaction is queued (its data is still collected).
        self.transaction_ending: Signal[[Transaction, MeterReading]] = Signal()
        # A transaction ended on a connector, with its stop reason (§7.42).
        self.transaction_ended: Signal[[Connector, Transaction, str]] = Signal()
        # A periodic meter reading of a connector was taken during a transaction.
        self.meter_sampled: Signal[[Connector, MeterReading]] = Signal()
        # The physical world changed (cable, EV, fault, meter): what keeps it on disk saves it.
        self.physical_changed: Signal[[]] = Signal()
        # A connector's status changed (old is None at power-up, when it is first derived).
        self.status_changed: Signal[[Connector, str | None, str]] = Signal()
        # Connector 0's status (the charge point as a whole) changed: old, new.
        self.station_status_changed: Signal[[str, str]] = Signal()
        # A security event (whitepaper §8): its type and techInfo. The security extensions log
        # and report it; without them nobody listens.
        self.security_event: Signal[[str, str | None]] = Signal()
