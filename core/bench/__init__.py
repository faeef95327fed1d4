"""Benchmarks of the job store (core/store):

    python -m core.bench.queue   # jobs/s and enqueue -> claim latency, SQLite and Redis
    python -m core.bench.purge   # how long a retention purge holds SQLite's write lock

Run from a checkout: the Redis runs start the tests' throwaway redis-server.
"""
