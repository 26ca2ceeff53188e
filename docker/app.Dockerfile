# Image for the Python 3.11 services: core_banking and gateway (SERVICE picks which).

# The gateway's front-end libraries (the console's Chart.js), vendored from the npm
# registry with the lock file by the same script `make setup` runs; only the built
# files reach the image (git ignores them, so a clean checkout has none to copy).
FROM python:3.11-slim AS frontend
RUN apt-get update && apt-get install -y --no-install-recommends npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY tools/frontend/package.json tools/frontend/package-lock.json tools/frontend/
COPY scripts/vendor_frontend.sh scripts/
RUN mkdir -p gateway/static && scripts/vendor_frontend.sh

FROM python:3.11-slim
WORKDIR /app
ARG SERVICE
COPY ${SERVICE}/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
COPY ${SERVICE}/ /app/${SERVICE}/
# (core_banking's image gets these few files too: Dockerfiles cannot COPY conditionally.)
COPY --from=frontend /src/gateway/static/vendor/ /app/gateway/static/vendor/
COPY scripts/ /app/scripts/
ENV PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1
# Runs as an unprivileged user (Kubernetes: runAsNonRoot with this uid) that may write
# only var/ (logs) and /keys: the compose `keys` job writes the development JWT pair
# there, and a new named volume takes the directory's owner, so the job (same uid) can
# write it and the gateway read its key.
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /tmp app \
 && mkdir -p /app/var /keys && chown 10001:10001 /app/var /keys
USER 10001:10001
