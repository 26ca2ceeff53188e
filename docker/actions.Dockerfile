# The rasa-sdk action server (Python 3.10).
FROM python:3.10-slim
WORKDIR /app
COPY actions/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
COPY actions/ /app/actions/
# The task registry the form validators read (actions/task_registry.py).
COPY bot/tasks.yml /app/bot/tasks.yml
ENV PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1
# An unprivileged user that may write only var/ (logs).
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /tmp app \
 && mkdir -p /app/var && chown 10001:10001 /app/var
USER 10001:10001
