"""How long a person takes to answer a task, when the log saw some of them cut off first.

A task made for one named person (an owner's consent) is completed after its answer time, or
cancelled before it: by the window's timer, or because another owner's refusal ended the
collection. A cancelled task says only that its person had not answered by then: its time is
censored. Drawing from the completions alone drops exactly the slow answers the timer cut
off, so every answering owner would answer within the window. The product-limit
(Kaplan-Meier) estimate keeps them: each completion weighs the probability of answering at
its time, and what is left after the last completion is the probability of answering later
than the log ever saw one answer (never, within the window).
"""


def answer_weights(times: list[float], censored: list[float]) -> tuple[list[float], float]:
    """Return each completion's probability, in the order of `times`, and the probability of
    no answer by the last of them, from completion times and the times tasks were cancelled
    unanswered (both seconds after the task came).

    A task cancelled at the moment another completed was still waiting then: it counts as at
    risk at that completion.
    """
    if not times:
        return [], 1.0
    order = sorted(range(len(times)), key=lambda n: times[n])
    cut = sorted(censored)
    weights = [0.0] * len(times)
    surviving, gone_cut, at = 1.0, 0, 0
    while at < len(order):
        moment = times[order[at]]
        tied = [n for n in order[at:] if times[n] == moment]
        # Tasks cancelled before this moment are no longer at risk.
        while gone_cut < len(cut) and cut[gone_cut] < moment:
            gone_cut += 1
        at_risk = len(order) - at + len(cut) - gone_cut
        mass = surviving * len(tied) / at_risk
        for n in tied:
            weights[n] = mass / len(tied)
        surviving -= mass
        at += len(tied)
    return weights, max(surviving, 0.0)
