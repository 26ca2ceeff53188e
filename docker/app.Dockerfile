# Image for the Python 3.11 services: core_banking and gateway (SERVICE picks which).
FROM python:3.11-slim
WORKDIR /app
ARG SERVICE
COPY ${SERVICE}/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
COPY ${SERVICE}/ /app/${SERVICE}/
COPY scripts/ /app/scripts/
ENV PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1
# Runs as an unprivileged user (Kubernetes: runAsNonRoot with this uid) that may write
# only var/ (logs) and /keys: the compose `keys` job writes the development JWT pair
# there, and a new named volume takes the directory's owner, so the job (same uid) can
# write it and the gateway read its key.
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /tmp app \
 && mkdir -p /app/var /keys && chown 10001:10001 /app/var /keys
USER 10001:10001
