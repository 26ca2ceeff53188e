# Rasa 3.6.21 (Python 3.10) with the model trained at build time from bot/ and nlu_data/.
FROM python:3.10-slim
WORKDIR /app
COPY bot/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
COPY bot/ /app/bot/
COPY nlu_data/ /app/nlu_data/
RUN ACTION_ENDPOINT_URL=http://actions:5055/webhook rasa train \
      --config bot/config.yml --domain bot/domain --data bot/data nlu_data \
      --out models --fixed-model-name current
