# ddnsd container image: dynamic DNS and ACME DNS-01 for TransIP.
#
#   docker build -t ddnsd .
#   docker run -d --name ddnsd \
#     -v "$PWD/config.toml:/etc/ddnsd/config.toml:ro" \
#     -v "$PWD/transip.key:/run/secrets/transip.key:ro" \
#     -e DDNSD_TRANSIP__PRIVATE_KEY_FILE=/run/secrets/transip.key \
#     -v ddnsd-state:/var/lib/ddnsd -p 127.0.0.1:9333:9333 ddnsd
#
# The process runs as uid/gid 10001: the mounted key must be readable by it
# (chown 10001:10001 transip.key && chmod 0400 transip.key). Every config key can be
# set with DDNSD_<SECTION>__<KEY> variables; secrets come from *_file keys (mounted files).

# Stage 1: build ddnsd and its dependencies as wheels.
FROM python:3.12.8-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ddnsd ./ddnsd
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

# Stage 2: the runtime image holds the installed wheels only (no compiler, no source).
FROM python:3.12.8-slim-bookworm
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ddnsd" \
      org.opencontainers.image.description="Dynamic DNS and ACME DNS-01 daemon for the TransIP REST API v6" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="docker.io/library/python:3.12.8-slim-bookworm"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DDNSD_STATE__DIR=/var/lib/ddnsd \
    DDNSD_HTTP__LISTEN=0.0.0.0:9333

RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels /wheels/ddnsd-*.whl \
    && install -d -m 0700 -o 10001 -g 10001 /var/lib/ddnsd \
    && install -d -m 0755 /etc/ddnsd

USER 10001:10001
WORKDIR /var/lib/ddnsd
VOLUME ["/var/lib/ddnsd"]
EXPOSE 9333

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["ddnsd", "healthcheck", "--ready"]

ENTRYPOINT ["ddnsd"]
CMD ["run"]
