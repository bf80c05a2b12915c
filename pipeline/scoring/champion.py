"""The promotion gate: a new model becomes champion only for a real, comparable improvement.

Comparable: the champion is re-scored on the candidate's own test split, restricted to the statements the champion
was neither trained nor tuned on (all of them unless the data set grew and was split again; see
evaluate.unseen_by_champion), and it belongs to the same data set and label set (the registry keeps one registered
model per data set; see tracking.claim_registered_model).
Real: the candidate beats the majority-class baseline by a margin, and the champion by `min_improvement`.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChampionDecision:
    promote: bool
    candidate_score: float
    champion_score: float | None
    reason: str
    # The version gated holds the alias already: registered before, by a run that trained the same model.
    holds_champion: bool = False


def decide(
    candidate_score: float,
    champion_score: float | None,
    min_improvement: float,
    baseline_score: float | None = None,
    min_over_baseline: float = 0.0,
    champion_problem: str | None = None,
    replace_broken: bool = False,
    p_value: float | None = None,
    max_p_value: float | None = None,
    metric: str = "score",
) -> ChampionDecision:
    """Promote a model that beats the baseline by `min_over_baseline` and then is the first model, or beats the
    champion by more than `min_improvement`. A champion that could not be re-scored (`champion_problem`) is
    replaced only when `replace_broken`."""
    if baseline_score is not None and not candidate_score > baseline_score + min_over_baseline:
        reason = (
            f"{metric} {candidate_score:.4f} does not beat the majority-class baseline's {baseline_score:.4f} by more "
            f"than {min_over_baseline} (champion.min_over_baseline)"
        )
        return ChampionDecision(False, candidate_score, champion_score, reason)
    if champion_problem:
        if replace_broken:
            return ChampionDecision(
                True, candidate_score, None, f"replaces a champion that {champion_problem} (champion.replace_broken)"
            )
        reason = (
            f"kept a champion that {champion_problem}; set champion.replace_broken=true to replace it without a "
            "comparison"
        )
        return ChampionDecision(False, candidate_score, None, reason)
    if champion_score is None:
        return ChampionDecision(True, candidate_score, None, "no champion yet")
    if candidate_score > champion_score + min_improvement:
        reason = (
            f"{metric} {candidate_score:.4f} beats the champion's {champion_score:.4f} by more than {min_improvement} "
            "(champion.min_improvement)"
        )
        if max_p_value is not None and p_value is not None and p_value > max_p_value:
            reason += f", but not significantly (McNemar p={p_value:.3g} > champion.max_p_value={max_p_value})"
            return ChampionDecision(False, candidate_score, champion_score, reason)
        return ChampionDecision(True, candidate_score, champion_score, reason)
    reason = (
        f"{metric} {candidate_score:.4f} does not beat the champion's {champion_score:.4f} by more than "
        f"{min_improvement} (champion.min_improvement)"
    )
    return ChampionDecision(False, candidate_score, champion_score, reason)


def comparison_problem(compared: np.ndarray, minimum: int) -> str | None:
    """Why the champion cannot be compared on the test statements it never saw (`compared`), or None.

    The minimum guards against a comparison on the few statements left unseen once added statements were split
    again. A test split the champion never saw at all is compared whatever its size, as every run is scored on it:
    otherwise the first champion of a small data set (a test split under the minimum) could never be replaced.
    """
    count = int(np.sum(compared))
    if count == len(compared) or count >= minimum:
        return None
    return (
        f"can be compared on only {count} of the {len(compared)} test statements (those it was neither trained nor "
        f"tuned on), too few (champion.min_compared_statements={minimum}; lower it to compare on these)"
    )


def mcnemar_p_value(truth: Sequence[str], candidate: Sequence[str], champion: Sequence[str]) -> float:
    """Exact McNemar test on the same test statements: do the two models' errors differ more than by chance?

    Only the statements exactly one of the two gets right count; under no difference each is equally likely
    to be the candidate's, so their split is Binomial(n, 1/2).
    """
    from scipy.stats import binomtest

    truth, candidate, champion = np.asarray(truth), np.asarray(candidate), np.asarray(champion)
    only_candidate = int(np.sum((candidate == truth) & (champion != truth)))
    only_champion = int(np.sum((candidate != truth) & (champion == truth)))
    if only_candidate + only_champion == 0:
        return 1.0
    return float(binomtest(only_candidate, only_candidate + only_champion, 0.5).pvalue)
