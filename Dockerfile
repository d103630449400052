# Two images. `runtime` (the last stage, so a plain `docker build .` makes it) is what production runs, the worker
# (`python worker.py`, its default command) and the API (`python -m api`), with the runtime dependencies only.
# `sandbox` is the local stand-in for the vendors that docker-compose.yml starts beside them.
# Each installs the pinned, hash-checked versions of its lock (`make lock` writes them), then the project itself
# without dependencies, so no two builds resolve differently.
FROM python:3.11-slim AS base

WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1


FROM base AS sandbox

COPY requirements/sandbox.lock requirements/
RUN pip install --require-hashes -r requirements/sandbox.lock
# The sandbox shares no code with the hub: its package is all it needs.
COPY sandbox sandbox

USER nobody
CMD ["python", "-m", "sandbox", "--host", "0.0.0.0"]


FROM base AS runtime

# The dependencies first, in their own layer: rebuilt only when the lock changes, not on every code change.
COPY requirements/runtime.lock requirements/
RUN pip install --require-hashes -r requirements/runtime.lock

COPY pyproject.toml README.md ./
COPY domain domain
COPY connectors connectors
COPY activities activities
COPY workflows workflows
COPY notifications notifications
COPY hub hub
COPY api api
COPY worker.py ./
RUN pip install --no-deps .

USER nobody
CMD ["python", "worker.py"]
