# meshwatch: the dashboard under gunicorn (`meshwatch serve` embeds it:
# dashboard/app/server.py), as a non-root user, on a read-only root
# filesystem (writable: /tmp and /dev/shm, see deploy/kubernetes).
#   docker build -t meshwatch:0.1.0 .
#   docker run --read-only --tmpfs /tmp -p 8050:8050 meshwatch:0.1.0 --prometheus http://HOST:9090

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dashboard dashboard
COPY queries queries
COPY layouts layouts
COPY assets assets
# Wheels of meshwatch and everything it needs, with the Kubernetes client
# for --istio-config kubernetes:.
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[kubernetes]"

FROM python:3.12-slim
RUN groupadd --gid 10001 meshwatch \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin meshwatch
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index /wheels/*.whl && rm -rf /wheels
# Nothing is written beside the code: no bytecode files, no home directory.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MESHWATCH_LISTEN=0.0.0.0:8050
USER 10001:10001
EXPOSE 8050
ENTRYPOINT ["meshwatch", "serve"]
