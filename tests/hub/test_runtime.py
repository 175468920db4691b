import gc

from hub.runtime import YOUNG_GENERATION_THRESHOLD, collector_tune


def test_a_tuned_process_freezes_what_it_has_loaded_and_collects_young_objects_less_often():
    before = gc.get_threshold()
    try:
        collector_tune()
        assert gc.get_freeze_count() > 1000  # the modules, settings and the rest loaded so far
        assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD
        cycle = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # cycles are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
