# Image for the Python 3.11 services: core_banking and gateway (SERVICE picks which).
FROM python:3.11-slim
WORKDIR /app
ARG SERVICE
COPY ${SERVICE}/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
COPY ${SERVICE}/ /app/${SERVICE}/
COPY scripts/ /app/scripts/
ENV PYTHONPATH=/app
