from streams.worker.stall_watch import StallWatch, positions_to_reach


def test_a_commit_stuck_behind_processed_messages_is_reported_after_the_window() -> None:
    watch: StallWatch[str] = StallWatch(30.0)
    assert watch.stalled(0.0, {"p8": 39292}, {"p8": 37757}) == []
    assert watch.stalled(29.0, {"p8": 39292}, {"p8": 37757}) == []
    assert watch.stalled(30.0, {"p8": 39292}, {"p8": 37757}) == ["p8"]
    # once reported, the re-read gets a whole window before it is judged again
    assert watch.stalled(45.0, {"p8": 39292}, {"p8": 37757}) == []
    assert watch.stalled(60.0, {"p8": 39292}, {"p8": 37757}) == ["p8"]


def test_progress_or_a_caught_up_commit_is_no_stall() -> None:
    watch: StallWatch[str] = StallWatch(30.0)
    for second in range(0, 300, 10):
        # a busy partition: its commit trails, but both keep moving
        assert watch.stalled(float(second), {"p": 1000 + second}, {"p": 990 + second}) == []
    assert watch.stalled(400.0, {"p": 5000}, {"p": 5000}) == []
    assert watch.stalled(500.0, {"p": 5000}, {"p": 5000}) == []


def test_a_partition_never_committed_counts_as_behind() -> None:
    watch: StallWatch[str] = StallWatch(10.0)
    assert watch.stalled(0.0, {"p": 5}, {}) == []
    assert watch.stalled(10.0, {"p": 5}, {"p": None}) == ["p"]


def test_a_change_restarts_the_window() -> None:
    watch: StallWatch[str] = StallWatch(30.0)
    watch.stalled(0.0, {"p": 100}, {"p": 50})
    watch.stalled(20.0, {"p": 100}, {"p": 60})  # the commit moved
    assert watch.stalled(40.0, {"p": 100}, {"p": 60}) == []
    assert watch.stalled(50.0, {"p": 100}, {"p": 60}) == ["p"]


def test_messages_waiting_beyond_the_commit_count_only_while_the_worker_is_idle() -> None:
    processed = {"p1": 40}
    highwaters = {"p1": 50, "p2": 7, "p3": 0, "p4": 12}
    committed = {"p1": 30, "p2": None, "p3": None, "p4": 12}
    # busy: a batch in flight may be what holds the commit back
    assert positions_to_reach(processed, highwaters, committed, idle=False) == {"p1": 40}
    # idle: a partition never delivered (p2) is behind; empty (p3) or caught up (p4) is not
    assert positions_to_reach(processed, highwaters, committed, idle=True) == {"p1": 50, "p2": 7}


def test_a_partition_never_delivered_after_a_restart_is_read_again() -> None:
    watch: StallWatch[str] = StallWatch(30.0)
    for second in (0.0, 15.0):
        targets = positions_to_reach({}, {"p": 400}, {"p": 120}, idle=True)
        assert watch.stalled(second, targets, {"p": 120}) == []
    assert watch.stalled(30.0, positions_to_reach({}, {"p": 400}, {"p": 120}, idle=True),
                         {"p": 120}) == ["p"]
