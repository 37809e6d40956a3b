FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ioc ioc
COPY firmware_sim firmware_sim
COPY devices devices
COPY rules rules
RUN pip install --no-cache-dir '.[postgres]' && useradd --system ioc && mkdir -p /var/lib/ioc \
    && chown ioc /var/lib/ioc
USER ioc
CMD ["ioc", "ingest"]
