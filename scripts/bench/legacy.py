"""The schedule of a stage-by-stage factory on the same operation durations.

The model follows the original PowerShell factory: it runs its stages one
after another, starts the step for every image, polls until all of them
have finished, and only then starts the next stage. So each stage starts
when the previous one ended, lasts as long as its slowest image, and is seen
to have ended at the first poll after that. Polls come every 30 to 60
seconds, drawn from a seeded generator. The range is an assumption of the
model about those scripts, not a measurement.

The stages are the ones on the chain of every image: build (VM create with
artifacts and generalization), capture (disk read access and the copy of
the VHD), and distribution (every custom image in every lab). Stages that
clean up (deleting VMs) are left out, which favours the model.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from scripts.bench.critical_path import ImageChain

POLL_SECONDS = (30.0, 60.0)


@dataclass(frozen=True)
class StageTiming:
    """One stage of the model: its slowest image and when the polling loop saw it end."""

    name: str
    slowest: float
    observed: float


@dataclass(frozen=True)
class LegacySchedule:
    stages: list[StageTiming]

    @property
    def seconds(self) -> float:
        return sum(stage.observed for stage in self.stages)

    def availability(
        self, chains: Iterable[ImageChain], time_scale: float
    ) -> list[float]:
        """Return when each image is in all its labs, in Azure seconds from the start.

        Distribution starts for every image once the capture stage has been
        seen to end. An image is then available as soon as its slowest custom
        image is created, without waiting for the next poll.
        """
        distribution_start = sum(stage.observed for stage in self.stages[:-1])
        return [distribution_start + c.slowest_copy / time_scale for c in chains]


def legacy_schedule(
    chains: Iterable[ImageChain],
    time_scale: float,
    seed: int = 1,
    poll_seconds: tuple[float, float] = POLL_SECONDS,
) -> LegacySchedule:
    """Return the stage-by-stage schedule, in Azure seconds, for chains in wall seconds."""
    chains = list(chains)
    rng = random.Random(seed)
    durations = {
        "build": max((c.build for c in chains), default=0.0),
        "capture": max((c.capture for c in chains), default=0.0),
        "distribute": max((c.slowest_copy for c in chains), default=0.0),
    }
    stages = []
    for name, wall in durations.items():
        slowest = wall / time_scale
        observed = 0.0
        while observed < slowest:
            observed += rng.uniform(*poll_seconds)
        stages.append(StageTiming(name, slowest, observed))
    return LegacySchedule(stages)
