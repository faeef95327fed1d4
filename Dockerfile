# syntax=docker/dockerfile:1
# The two images of imagine-bot; docker-compose.yml builds both.
#   target `bot`:    the Discord bot. No TensorFlow: small, starts in about a second.
#   target `worker`: the image worker. TENSORFLOW=gpu (the default) installs TensorFlow
#                    with its CUDA libraries; TENSORFLOW=cpu the CPU-only build.
#   target `worker-jax`: the same worker on JAX instead of TensorFlow (IMAGINE_BACKEND=jax,
#                    docs/engine.md). JAX=cuda (the default) installs JAX's CUDA wheels,
#                    JAX=cpu its CPU wheels.
# Both install exactly the versions pinned in constraints.txt, the set CI tests with
# (tests/deploy/test_dockerfile.py checks that every pip install here uses it).
#
# Why a plain Python base for the GPU worker: TensorFlow's `and-cuda` extra installs
# CUDA, cuDNN, cuBLAS and the rest as pip wheels, at the versions this TensorFlow was
# built against (pinned in constraints.txt too). An nvidia/cuda base image would add a
# second CUDA beside them: gigabytes larger, and free to disagree with TensorFlow. The
# host needs only the NVIDIA driver and the NVIDIA Container Toolkit, which mounts the
# driver into the container.

# The Python that constraints.txt was resolved with and CI runs.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/srv/imagine \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# One unprivileged user, with the same uid in both images: the bot and the workers write
# the same SQLite files in the data volume. /data and /cache belong to it, so named
# volumes mounted there start out writable by it.
RUN useradd --create-home --uid 10001 --user-group imagine \
    && install -d -o imagine -g imagine /data /cache
WORKDIR /srv/imagine
# Dependencies first, installed from the project's metadata alone (the packages are
# copied after), so a change to the code does not reinstall gigabytes of wheels. The
# README is only the package's long description: an empty one keeps this layer cached.
COPY pyproject.toml constraints.txt ./
RUN touch README.md

FROM base AS bot
# A font with Chinese, Japanese and Korean letters for the usage chart (5 MB; Pillow's
# own draws them as empty boxes): bot/moderation/charts.py looks for it first.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
RUN pip install -c constraints.txt ".[bot]"
COPY core/ core/
COPY bot/ bot/
USER imagine
CMD ["python", "-m", "bot"]

FROM base AS worker
ARG TENSORFLOW=gpu
RUN case "$TENSORFLOW" in \
        gpu|cpu) ;; \
        *) echo "TENSORFLOW must be gpu or cpu, not '$TENSORFLOW'" >&2; exit 1 ;; \
    esac \
    && pip install -c constraints.txt ".[worker,$TENSORFLOW]"
COPY core/ core/
COPY worker/ worker/
USER imagine
CMD ["python", "-m", "worker"]

FROM base AS worker-jax
ARG JAX=cuda
RUN case "$JAX" in \
        cuda) extra=jax-cuda ;; \
        cpu) extra=jax ;; \
        *) echo "JAX must be cuda or cpu, not '$JAX'" >&2; exit 1 ;; \
    esac \
    && pip install -c constraints.txt ".[worker,$extra]"
ENV IMAGINE_BACKEND=jax
COPY core/ core/
COPY worker/ worker/
USER imagine
CMD ["python", "-m", "worker"]
