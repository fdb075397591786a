"""``WriteClock``: write times strictly increasing within a process, one at a time or a batch at once."""

from datetime import datetime, timezone

from convmem.kit.clock import WriteClock


def test_a_batch_of_ticks_is_strictly_increasing_after_the_ticks_before_it():
    clock = WriteClock()
    before = clock.tick()
    batch = clock.ticks(1000)
    after = clock.tick()
    stamps = [before, *batch, after]
    assert len(batch) == 1000
    assert all(earlier < later for earlier, later in zip(stamps, stamps[1:]))
    assert all(datetime.fromisoformat(stamp).tzinfo == timezone.utc and len(stamp) == len(before) for stamp in stamps)
    assert clock.ticks(0) == [] and clock.tick() > after
