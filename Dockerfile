# One image for the worker and the sandbox; the command chooses which runs.
FROM python:3.11-slim

WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

COPY pyproject.toml README.md ./
COPY domain domain
COPY connectors connectors
COPY activities activities
COPY workflows workflows
COPY notifications notifications
COPY hub hub
COPY api api
COPY sandbox sandbox
COPY worker.py ./
RUN pip install .

USER nobody
CMD ["python", "worker.py"]
