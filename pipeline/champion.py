"""The promotion gate: a new model becomes champion only if it beats the current one on the same test split."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ChampionDecision:
    promote: bool
    candidate_score: float
    champion_score: float | None
    reason: str


def decide(candidate_score: float, champion_score: float | None, min_improvement: float) -> ChampionDecision:
    """Promote the first model, or one that beats the champion by more than `min_improvement`."""
    if champion_score is None:
        return ChampionDecision(True, candidate_score, None, "no champion yet")
    if candidate_score > champion_score + min_improvement:
        reason = f"{candidate_score:.4f} beats the champion's {champion_score:.4f} by more than {min_improvement}"
        return ChampionDecision(True, candidate_score, champion_score, reason)
    reason = f"{candidate_score:.4f} does not beat the champion's {champion_score:.4f} by more than {min_improvement}"
    return ChampionDecision(False, candidate_score, champion_score, reason)
