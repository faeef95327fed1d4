import itertools

from core.jobs import JobParams, NewJob

_ids = itertools.count(1)


def new_job(
    *,
    guild: int = 1,
    user: int = 10,
    count: int = 1,
    steps: int = 2,
    size: tuple[int, int] = (128, 128),
    prompt: str = "a lighthouse at dusk",
    seed: int = 7,
    max_attempts: int = 3,
    model: str = "sd14",
) -> NewJob:
    params = JobParams(
        prompt=prompt,
        count=count,
        steps=steps,
        seed=seed,
        width=size[0],
        height=size[1],
        model=model,
    )
    return NewJob(
        id=f"job-{next(_ids)}",
        guild_id=guild,
        channel_id=guild * 100,
        user_id=user,
        params=params,
        max_attempts=max_attempts,
    )
