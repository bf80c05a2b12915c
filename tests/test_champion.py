"""The champion alias moves only to a model that beats the current champion."""

from pipeline.scoring.champion import decide


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
