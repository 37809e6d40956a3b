FROM python:3.11-slim
WORKDIR /app
# mosquitto_passwd, for `ioc identities make` run in this image (docs/security.md).
RUN apt-get update && apt-get install -y --no-install-recommends mosquitto \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY ioc ioc
COPY firmware_sim firmware_sim
COPY devices devices
COPY rules rules
# A fixed uid, so secret files can be given to it on the host (chown 10001).
RUN pip install --no-cache-dir '.[postgres]' && useradd --system --uid 10001 ioc \
    && mkdir -p /var/lib/ioc && chown ioc /var/lib/ioc
USER ioc
CMD ["ioc", "ingest"]
