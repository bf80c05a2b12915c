"""The champion alias moves only to a model that beats the current champion."""

import numpy as np

from pipeline.scoring.champion import comparison_problem, decide


def test_the_first_model_becomes_champion():
    decision = decide(0.61, None, min_improvement=0.0)
    assert decision.promote and decision.reason == "no champion yet"


def test_a_better_model_is_promoted_and_a_tie_or_worse_is_not():
    assert decide(0.80, 0.79, min_improvement=0.0).promote
    assert not decide(0.79, 0.79, min_improvement=0.0).promote
    assert not decide(0.75, 0.79, min_improvement=0.0).promote


def test_the_gate_can_demand_a_margin():
    assert not decide(0.80, 0.79, min_improvement=0.02).promote
    decision = decide(0.82, 0.79, min_improvement=0.02)
    assert decision.promote and decision.champion_score == 0.79 and decision.candidate_score == 0.82


def test_a_test_split_the_champion_never_saw_is_compared_whatever_its_size():
    """A small data set's test split (9 statements) is under the minimum of 30: its first champion must still be
    replaceable. The minimum applies to the few statements left unseen after added statements were split again."""
    assert comparison_problem(np.ones(9, dtype=bool), minimum=30) is None
    assert comparison_problem(np.array([True] * 30 + [False] * 70), minimum=30) is None
    problem = comparison_problem(np.array([True] * 29 + [False] * 71), minimum=30)
    assert problem.startswith("can be compared on only 29 of the 100 test statements")
    assert "champion.min_compared_statements=30; lower it" in problem
